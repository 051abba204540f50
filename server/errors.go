package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"stargate/store"
)

// noSpaceRetry is the Retry-After, in seconds, of a write refused for a
// full disk.
const noSpaceRetry = 30

// apiError is an error with an HTTP status, returned by handlers.
type apiError struct {
	status   int
	msg      string
	problems []Problem
	// retryAfter, in seconds, becomes a Retry-After header (0: none).
	retryAfter int
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(problems []Problem) *apiError {
	msg := fmt.Sprintf("%d problem(s) with the request", len(problems))
	if len(problems) == 1 {
		msg = problems[0].String()
	}
	return &apiError{status: http.StatusBadRequest, msg: msg, problems: problems}
}

// writeJSON writes v as the response body with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	// Encode first: a value that cannot be encoded (a NaN or an infinity)
	// is a server error, not a 200 with an empty body.
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(ErrorBody{Error: "server: cannot encode the answer: " + err.Error()})
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// statusOf maps a handler error to its status and body.
func statusOf(err error) (int, ErrorBody) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.status, ErrorBody{Error: ae.msg, Problems: ae.problems}
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, ErrorBody{Error: "not found"}
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, ErrorBody{Error: "changed concurrently; retry"}
	case store.NoSpace(err):
		// nothing was written; once space is freed, writes succeed again
		// without a restart
		return http.StatusInsufficientStorage, ErrorBody{Error: "the server's store is out of disk space: nothing was written, and writes are refused until space is freed (reads still work); retry later"}
	default:
		return http.StatusInternalServerError, ErrorBody{Error: "internal error"}
	}
}
