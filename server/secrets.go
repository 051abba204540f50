package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"stargate/store"
)

// A job's secret_env values are stored sealed with AES-256-GCM under the
// server's key, bound to the job and the variable's name (so that a
// sealed value copied to another job or name does not open), shown to
// people as Redacted, and opened only in the heartbeat reply to the
// agent of a node the job runs on.

// Redacted stands for a secret value in every answer to people.
const Redacted = "(secret)"

// sealedPrefix marks a sealed value in the store.
const sealedPrefix = "sgsec1:"

// SecretKeyFile is the file, in the data directory, that holds the key
// secret values are sealed with.
const SecretKeyFile = "secret.key"

// LoadOrCreateSecretKey reads a 32-byte key, hex-encoded, from path, or
// makes one there (mode 0600) when the file does not exist. Replicas that
// share a store must share the key.
func LoadOrCreateSecretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		rand.Read(key)
		if err := writeFileSync(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("server: secret key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: secret key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("server: secret key %s: want 64 hex digits", path)
	}
	return key, nil
}

func (s *Server) aead() cipher.AEAD {
	block, err := aes.NewCipher(s.cfg.SecretKey)
	if err != nil {
		panic(err) // New checked the key's length
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

// seal encrypts a job's secret values in place.
func (s *Server) seal(j *store.Job) {
	if len(j.Spec.SecretEnv) == 0 {
		return
	}
	gcm := s.aead()
	sealed := make(map[string]string, len(j.Spec.SecretEnv))
	for k, v := range j.Spec.SecretEnv {
		nonce := make([]byte, gcm.NonceSize())
		rand.Read(nonce)
		ct := gcm.Seal(nonce, nonce, []byte(v), []byte(j.ID+"\x00"+k))
		sealed[k] = sealedPrefix + base64.RawStdEncoding.EncodeToString(ct)
	}
	j.Spec.SecretEnv = sealed
}

// open returns a job with its secret values in clear, for the agent of a
// node it runs on. A value that does not open (another key) is left out,
// and said so.
func (s *Server) open(j store.Job) (store.Job, error) {
	if len(j.Spec.SecretEnv) == 0 {
		return j, nil
	}
	gcm := s.aead()
	plain := make(map[string]string, len(j.Spec.SecretEnv))
	var errs []error
	for k, v := range j.Spec.SecretEnv {
		ct, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(v, sealedPrefix))
		if err == nil && len(ct) < gcm.NonceSize() {
			err = errors.New("too short")
		}
		var pt []byte
		if err == nil {
			pt, err = gcm.Open(nil, ct[:gcm.NonceSize()], ct[gcm.NonceSize():], []byte(j.ID+"\x00"+k))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s of job %s does not open with this server's key", k, j.ID))
			continue
		}
		plain[k] = string(pt)
	}
	j.Spec.SecretEnv = plain
	return j, errors.Join(errs...)
}

// redact returns a job as people see it: secret values replaced.
func redact(j store.Job) store.Job {
	if len(j.Spec.SecretEnv) == 0 {
		return j
	}
	r := make(map[string]string, len(j.Spec.SecretEnv))
	for k := range j.Spec.SecretEnv {
		r[k] = Redacted
	}
	j.Spec.SecretEnv = r
	return j
}

// secretDigest stands for the secret values in a request's idempotency
// hash: a keyed digest, so that the stored hash reveals nothing of them.
func (s *Server) secretDigest(spec store.JobSpec) store.JobSpec {
	if len(spec.SecretEnv) == 0 {
		return spec
	}
	d := make(map[string]string, len(spec.SecretEnv))
	for k, v := range spec.SecretEnv {
		m := hmac.New(sha256.New, s.cfg.SecretKey)
		m.Write([]byte(k + "\x00" + v))
		d[k] = hex.EncodeToString(m.Sum(nil))
	}
	spec.SecretEnv = d
	return spec
}
