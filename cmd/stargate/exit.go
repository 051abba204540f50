package main

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"stargate/client"
)

// Exit codes, the same for every command, so that scripts can tell
// failures apart (see 'stargate --help').
const (
	exitOK          = 0
	exitFailed      = 1 // anything else: a bad fleet file, a failed run
	exitUsage       = 2 // a bad flag or argument
	exitNotFound    = 3 // 404
	exitRefused     = 4 // 401, 403: the token is missing, unknown or not allowed
	exitInvalid     = 5 // 400, 413: the server refused the input
	exitConflict    = 6 // 409: the object is not in a state that allows it
	exitUnreachable = 7 // no answer, a 5xx, or 429: try again later
)

// exitCodes is the table of --help and the README.
const exitCodes = `Exit codes (every command):
  0  ok
  1  failed: anything below does not say (a bad fleet file, a failed run)
  2  usage: a bad flag or argument
  3  not found (404)
  4  refused: the token is missing, unknown or not allowed (401, 403)
  5  invalid input: the server refused the request as asked (400, 413)
  6  conflict: the object is not in a state that allows it (409)
  7  unreachable: no answer, a server error (5xx) or too many requests (429); retry later`

// usageError is a mistake on the command line.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCode maps a command's error to its exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ae *client.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusNotFound:
			return exitNotFound
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			return exitRefused
		case ae.Status == http.StatusConflict:
			return exitConflict
		case ae.Status == http.StatusTooManyRequests || ae.Status >= 500:
			return exitUnreachable
		case ae.Status >= 400:
			return exitInvalid
		}
	}
	// the server did not answer (a refused connection, a timeout, a
	// name that does not resolve): the client's requests fail as *url.Error
	var ue2 *url.Error
	var oe *net.OpError
	if errors.As(err, &ue2) || errors.As(err, &oe) {
		return exitUnreachable
	}
	// cobra's own complaints about the command line
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"requires exactly", "invalid argument", "flag needs an argument", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return exitUsage
		}
	}
	return exitFailed
}

// markUsage makes a command tree's argument and flag errors usage errors.
func markUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markUsage(c)
	}
}
