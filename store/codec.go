package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The helpers below are shared by the SQL backends, which store times as
// Unix nanoseconds (0 for the zero time) and lists and maps as JSON text.

// UnixNano encodes t for a backend; the zero time is 0.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNano decodes what UnixNano encoded, in UTC.
func FromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// EncodeJSON encodes v for a JSON text column.
func EncodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err)) // only plain data is stored
	}
	return string(b)
}

// DecodeJSON decodes a JSON text column into v.
func DecodeJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("store: decode %T: %w", v, err)
	}
	return nil
}

// HashSecret is how token secrets are hashed for storage: SHA-256, hex.
// Secrets are long random strings, so a fast hash is enough.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
