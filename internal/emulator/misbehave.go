package emulator

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Misbehaviour makes one API method behave as a broken server would, for
// fault tests: never answer, answer a fixed error, or page forever.
type Misbehaviour struct {
	// Hang never answers (until the client gives up); HangFirst hangs only
	// the first N calls, then answers normally.
	Hang      bool
	HangFirst int
	// Status, when set, answers every call with this HTTP error; Reason
	// goes in errors[].reason and RetryAfter in the Retry-After header.
	Status int
	Reason string
	// StatusName is the body's status string, when not the usual one for
	// Status: google.rpc.Code maps ABORTED to 409 as well as ALREADY_EXISTS.
	StatusName string
	Message    string
	RetryAfter string
	// Body, when set, is the whole answer (with Status, 200 when unset),
	// the call not carried out: a proxy's empty 200, say.
	Body string
	// LoopPages makes a list answer with the same nextPageToken forever.
	LoopPages bool
	// AtCall, when set, confines the misbehaviour to the method's Nth call
	// (a stray refusal, say); every other call is answered normally.
	AtCall int
	// ServiceDisabled answers as Google does when the API the method
	// belongs to (Chat, or the Admin SDK for directory.*) is not enabled
	// in the caller's Google Cloud project: 403 PERMISSION_DENIED with a
	// google.rpc.ErrorInfo SERVICE_DISABLED (and, for the Admin SDK, the
	// older errors[].reason accessNotConfigured).
	ServiceDisabled bool
}

// SetMisbehaviour makes method ("members.list", "directory.users.get", ...,
// or "*" for every API method) misbehave; a zero Misbehaviour restores it.
func (s *Server) SetMisbehaviour(method string, m Misbehaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.misbehave == nil {
		s.misbehave = map[string]*misbehaving{}
	}
	if m == (Misbehaviour{}) {
		delete(s.misbehave, method)
		return
	}
	s.misbehave[method] = &misbehaving{Misbehaviour: m}
}

type misbehaving struct {
	Misbehaviour
	calls int
}

// misbehaviour returns what method should do on this call, counting it.
func (s *Server) misbehaviour(method string) (Misbehaviour, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.misbehave[method]
	if m == nil {
		m = s.misbehave["*"]
	}
	if m == nil {
		return Misbehaviour{}, false
	}
	m.calls++
	if m.AtCall > 0 && m.calls != m.AtCall {
		return Misbehaviour{}, false
	}
	out := m.Misbehaviour
	if m.HangFirst > 0 && m.calls <= m.HangFirst {
		out.Hang = true
	}
	return out, true
}

// misbehave acts out m; it reports whether the call was answered (or
// abandoned) so the real handler must not run.
func misbehave(w http.ResponseWriter, r *http.Request, method string, m Misbehaviour) bool {
	switch {
	case m.Hang:
		<-r.Context().Done()
		return true
	case m.ServiceDisabled:
		writeServiceDisabled(w, method)
		return true
	case m.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(cmp.Or(m.Status, http.StatusOK))
		io.WriteString(w, m.Body)
		return true
	case m.Status != 0:
		if m.RetryAfter != "" {
			w.Header().Set("Retry-After", m.RetryAfter)
		}
		msg := m.Message
		if msg == "" {
			msg = "misbehaving on purpose"
		}
		body := wireErrorBody{Code: m.Status, Message: msg, Status: statusName(m.Status)}
		if m.StatusName != "" {
			body.Status = m.StatusName
		}
		if m.Reason != "" {
			body.Errors = []wireErrorItem{{Reason: m.Reason, Message: msg, Domain: "global"}}
		}
		writeJSON(w, m.Status, wireError{Error: body})
		return true
	}
	return false
}

// DisabledProject is the Google Cloud project number the emulator names
// when it answers that an API is not enabled.
const DisabledProject = "123456789012"

// writeServiceDisabled answers what Google answers for a call to an API
// the project has not enabled: the Chat API's answer (google.rpc style)
// carries details only; the Admin SDK's carries errors[] too.
func writeServiceDisabled(w http.ResponseWriter, method string) {
	service, title := "chat.googleapis.com", "Google Chat API"
	directory := strings.HasPrefix(method, "directory.")
	if directory {
		service, title = "admin.googleapis.com", "Admin SDK API"
	}
	activation := "https://console.developers.google.com/apis/api/" + service + "/overview?project=" + DisabledProject
	msg := title + " has not been used in project " + DisabledProject + " before or it is disabled. Enable it by visiting " +
		activation + " then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
	body := map[string]any{
		"code": http.StatusForbidden, "message": msg, "status": "PERMISSION_DENIED",
		"details": []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
				"metadata": map[string]string{"service": service, "serviceTitle": title, "consumer": "projects/" + DisabledProject,
					"containerInfo": DisabledProject, "activationUrl": activation}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": msg},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{
				map[string]string{"description": "Google developers console API activation", "url": activation}}},
		},
	}
	if directory {
		body["errors"] = []any{map[string]string{"message": msg, "domain": "usageLimits", "reason": "accessNotConfigured", "extendedHelp": "https://console.developers.google.com"}}
	}
	writeJSON(w, http.StatusForbidden, map[string]any{"error": body})
}

func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ALREADY_EXISTS"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return ""
}

// ParseMisbehaviour reads the emulator's --misbehave flag: METHOD=WHAT[,WHAT]
// with WHAT one of hang, hang-first:N, loop-pages, a status code (500,
// 403:quotaExceeded, 429), retry-after:SECONDS, at-call:N (only the Nth call),
// no-chat-app, service-disabled (the method's API not enabled in the project).
func ParseMisbehaviour(flag string) (string, Misbehaviour, error) {
	method, spec, ok := strings.Cut(flag, "=")
	if !ok || method == "" || spec == "" {
		return "", Misbehaviour{}, fmt.Errorf("--misbehave %q: want METHOD=WHAT, e.g. members.list=loop-pages", flag)
	}
	var m Misbehaviour
	for _, what := range strings.Split(spec, ",") {
		key, val, _ := strings.Cut(what, ":")
		switch {
		case key == "hang":
			m.Hang = true
		case key == "hang-first":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return "", m, fmt.Errorf("--misbehave %q: hang-first:N needs a positive N", flag)
			}
			m.HangFirst = n
		case key == "at-call":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return "", m, fmt.Errorf("--misbehave %q: at-call:N needs a positive N", flag)
			}
			m.AtCall = n
		case key == "loop-pages":
			m.LoopPages = true
		case key == "retry-after":
			m.RetryAfter = val
		case key == "service-disabled":
			// What Google answers when the project has not enabled the API.
			m.ServiceDisabled = true
		case key == "no-chat-app":
			// What Google answers when the project has no Chat app configured.
			m.Status, m.Message = 404, "Google Chat app not found. To create a Chat app, you must turn on the Chat API and configure the app in the Google Cloud console."
		default:
			code, err := strconv.Atoi(key)
			if err != nil || code < 400 || code > 599 {
				return "", m, fmt.Errorf("--misbehave %q: %q is not hang, hang-first:N, loop-pages, retry-after:S, at-call:N, no-chat-app, service-disabled or an HTTP error code", flag, what)
			}
			m.Status, m.Reason = code, val
		}
	}
	return method, m, nil
}

type loopKey struct{}

func withLoopPages(ctx context.Context) context.Context {
	return context.WithValue(ctx, loopKey{}, true)
}

// loopToken is the page token a looping list hands out again and again.
const loopToken = "the-same-token-again"

// loopPages reports whether this list call should page forever.
func loopPages(r *http.Request) bool { return r.Context().Value(loopKey{}) != nil }
