// Package emulator serves the Google Chat membership REST API and the
// Directory users API from memory, wire-compatible with the official Go
// clients, so the syncer can run end to end with no Google account.
//
// It behaves as Google documents (see shared/chat-api-notes.md): canonical
// users/{id} names in responses, email aliases in requests, 409 for existing
// memberships, INVITED members when auto-accept is off, ROLE_MEMBER on every
// create, groups only in named spaces, the last owner protected, list
// filters and paging, unknown query parameters rejected. It enforces the
// quotas, injects faults on request and counts every request.
package emulator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options tune the emulator.
type Options struct {
	// QuotaScale multiplies Google's quotas' rates (the same counts in 1/N of
	// the time); 0 disables quotas.
	QuotaScale float64
	// QuotaBucket counts each quota as a token bucket refilled at the
	// quota's rate and holding QuotaBurst calls (DefaultQuotaBurst when 0),
	// instead of Google's per-minute count: stricter than Google, so only a
	// client that paces smoothly passes it.
	QuotaBucket bool
	QuotaBurst  int
	// OtherAppShare is the share (0 to 1) of each project quota another app
	// uses, at an even pace from the emulator's start: the syncer gets what
	// is left, as in a project other jobs share.
	OtherAppShare float64
	// LatencyMin and LatencyMax bound a uniform delay added to each call.
	LatencyMin, LatencyMax time.Duration
	// FaultRate is the chance that a Chat or Directory call gets a fault.
	FaultRate float64
	// Faults are the kinds to draw from; all when empty.
	Faults []Fault
	// Seed makes fault and latency draws repeatable; 0 picks one.
	Seed uint64
	// HideEmails leaves member.email out of list and get responses, as the
	// API may with app authentication.
	HideEmails bool
	// NameMembersByAddress answers every person as users/{their email}
	// (member.name), not users/{id}: Google documents IDs in answers and
	// the email as an alias in requests only, but a server, or Google one
	// day, may answer with the alias; the syncer must cope with both.
	// Membership names stay spaces/X/members/{id}.
	NameMembersByAddress bool
	// RefuseInvitedRoleChanges answers FAILED_PRECONDITION to a role patch
	// on a member who has not accepted their invitation. Google does not
	// document which it does; the syncer must cope with both.
	RefuseInvitedRoleChanges bool
	// HideInvitedFromGets answers members.get with 404 for a membership not
	// yet accepted, as Google may under app authentication, which can't
	// list invitations either (undocumented for get: the syncer must cope
	// with both answers).
	HideInvitedFromGets bool
	// RefuseSpacesGet answers spaces.get with 403, as Google does when the
	// token lacks a spaces scope.
	RefuseSpacesGet bool
	// RefuseDirectory answers every Directory call with 403, as Google does
	// when the impersonated user is not an admin.
	RefuseDirectory bool
	// RequireToken, when set, answers 401 UNAUTHENTICATED to any API call
	// without "Authorization: Bearer <RequireToken>".
	RequireToken string
	// ForeignDomainStatus is how Directory users.get answers an address in
	// a domain the customer doesn't own: 403 forbidden (0, the default),
	// 400, or 404 "Domain not found" (Google has been seen to answer each).
	ForeignDomainStatus int
	// ForeignDomainNoSuchUser answers such an address as Google answers an
	// own-domain address nobody has, 404 "Resource Not Found: userKey",
	// whatever ForeignDomainStatus says (it has been seen too).
	ForeignDomainNoSuchUser bool
	// AppID, when set, is the calling app's user ID: its membership is
	// answered as spaces/X/members/{AppID}, member users/{AppID}, as the
	// reference says answers name everyone (canonical names only), and
	// requests may still say "app" (users/app, members/app: "can be used
	// as an alias"). Unset, the app is answered as users/app.
	AppID string
	// Caller, when set, is who makes the calls: a seed user's email or ID
	// (user authentication), or "app" (app authentication). Writes are then
	// judged by the caller's current role in the space as Google documents
	// (see caller.go): 403 PERMISSION_DENIED for what that role can't do,
	// nothing checked with useAdminAccess=true. Unset, any write goes.
	Caller string
}

// DefaultQuotaBurst is how many calls a token-bucket quota holds.
const DefaultQuotaBurst = 10

// Fault is a kind of injected failure.
type Fault string

const (
	Fault500            Fault = "500"
	Fault503            Fault = "503"
	Fault429            Fault = "429"
	FaultReset          Fault = "reset"            // the connection is closed with no answer
	FaultAppliedThen500 Fault = "applied-then-500" // a write happens, its answer is lost
)

// AllFaults lists every fault kind.
var AllFaults = []Fault{Fault500, Fault503, Fault429, FaultReset, FaultAppliedThen500}

// Server is an emulator instance; it is safe for concurrent use.
type Server struct {
	opts   Options
	quotas *quotas
	mux    *http.ServeMux

	mu        sync.Mutex // guards world, stats, rng and misbehave
	world     *world
	stats     Stats
	rng       *rand.Rand
	misbehave map[string]*misbehaving
	callerID  string // Options.Caller's user ID
}

// Stats counts what the emulator saw.
type Stats struct {
	// Requests counts calls by "method status", e.g. "members.create 200".
	Requests map[string]int `json:"requests"`
	// QuotaRejections counts the refusals the emulator's quotas caused
	// (429s; 403 userRateLimitExceeded for the Directory), not faults.
	QuotaRejections int `json:"quota_rejections"`
	// OtherAppCalls counts the calls of Options.OtherAppShare's other app
	// (since the emulator started).
	OtherAppCalls int `json:"other_app_calls,omitempty"`
	// Faults counts injected faults by kind.
	Faults map[string]int `json:"faults"`
	// Creates counts memberships actually created, by "space member".
	Creates map[string]int `json:"creates"`
	// Writes counts create, patch and delete calls that changed state.
	Writes int `json:"writes"`
	// FirstWrite and LastWrite are when the first and last of them happened.
	FirstWrite time.Time `json:"first_write,omitzero"`
	LastWrite  time.Time `json:"last_write,omitzero"`
}

// wrote records a write that changed state; the caller holds s.mu.
func (s *Server) wrote() {
	now := time.Now()
	if s.stats.Writes == 0 {
		s.stats.FirstWrite = now
	}
	s.stats.Writes++
	s.stats.LastWrite = now
}

// New builds an emulator from a seed (nil for an empty world).
func New(seed *Seed, opts Options) (*Server, error) {
	w, err := newWorld(seed)
	if err != nil {
		return nil, err
	}
	w.warmDirectory()
	w.appID = opts.AppID
	w.byAddress = opts.NameMembersByAddress
	if len(opts.Faults) == 0 {
		opts.Faults = AllFaults
	}
	seedValue := opts.Seed
	if seedValue == 0 {
		seedValue = uint64(time.Now().UnixNano())
	}
	s := &Server{opts: opts, quotas: newQuotas(opts), world: w,
		rng:   rand.New(rand.NewPCG(seedValue, seedValue^0x9e3779b97f4a7c15)),
		stats: Stats{Requests: map[string]int{}, Faults: map[string]int{}, Creates: map[string]int{}}}
	if c := opts.Caller; c != "" && c != callerApp {
		u := w.lookupUser(strings.TrimPrefix(c, "users/"))
		if u == nil {
			return nil, fmt.Errorf("caller %q is no seed user (an email or ID, or app)", c)
		}
		s.callerID = u.id
	}
	s.routes()
	return s, nil
}

// Handler serves the APIs.
func (s *Server) Handler() http.Handler { return s.mux }

// ResetStats zeroes the counters (a benchmark's warm-up run is not counted).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{Requests: map[string]int{}, Faults: map[string]int{}, Creates: map[string]int{}}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: map[string]int{}, Faults: map[string]int{}, Creates: map[string]int{}, QuotaRejections: s.stats.QuotaRejections, Writes: s.stats.Writes,
		FirstWrite: s.stats.FirstWrite, LastWrite: s.stats.LastWrite}
	out.OtherAppCalls = s.quotas.otherApp(time.Now())
	for k, v := range s.stats.Requests {
		out.Requests[k] = v
	}
	for k, v := range s.stats.Faults {
		out.Faults[k] = v
	}
	for k, v := range s.stats.Creates {
		out.Creates[k] = v
	}
	return out
}

// Total is the number of API requests seen (emulator control calls excluded).
func (st Stats) Total() int {
	n := 0
	for _, v := range st.Requests {
		n += v
	}
	return n
}

// Count is the number of requests of one method, any status.
func (st Stats) Count(method string) int {
	n := 0
	for k, v := range st.Requests {
		if strings.HasPrefix(k, method+" ") {
			n += v
		}
	}
	return n
}

// MemberState is one membership in a snapshot.
type MemberState struct {
	Member string `json:"member"` // users/{id}, groups/{id} or users/app
	Email  string `json:"email,omitempty"`
	Role   string `json:"role"`
	State  string `json:"state"`
}

// Snapshot returns every space's memberships, sorted by member.
func (s *Server) Snapshot() map[string][]MemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]MemberState{}
	for name, sp := range s.world.spaces {
		list := []MemberState{}
		for _, m := range sp.members {
			ms := MemberState{Role: m.role, State: m.state}
			switch m.kind {
			case "GROUP":
				ms.Member = "groups/" + m.id
			case "BOT":
				ms.Member = "users/app"
			default:
				ms.Member = "users/" + m.id
				ms.Email = s.world.users[m.id].email
			}
			list = append(list, ms)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Member < list[j].Member })
		out[name] = list
	}
	return out
}

// call describes one API method for the middleware.
type call struct {
	method string // e.g. members.create
	write  bool
	kind   string // chat, space, directory
	params []string
	// answer is the resource a success answers with: a fields mask is
	// checked against it before the method runs.
	answer reflect.Type
}

// commonParams are Google's system parameters, which every method takes
// (https://cloud.google.com/apis/docs/system-parameters). Anything else a
// method does not document is refused, so the syncer's tests prove it sends
// nothing a strict server would reject.
var commonParams = []string{"alt", "prettyPrint", "fields", "key", "quotaUser", "access_token", "callback", "upload_protocol", "uploadType", "$.xgafv"}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	handle := func(pattern string, c call, h func(http.ResponseWriter, *http.Request)) {
		s.mux.HandleFunc(pattern, s.middleware(c, h))
	}
	handle("GET /v1/spaces/{space}", call{method: "spaces.get", kind: "space", params: []string{"useAdminAccess"}, answer: reflect.TypeFor[wireSpace]()}, s.getSpace)
	handle("GET /v1/spaces/{space}/members", call{method: "members.list", kind: "chat",
		params: []string{"pageSize", "pageToken", "filter", "showInvited", "showGroups", "useAdminAccess"}, answer: reflect.TypeFor[wireList]()}, s.listMembers)
	handle("GET /v1/spaces/{space}/members/{member}", call{method: "members.get", kind: "chat", params: []string{"useAdminAccess"}, answer: reflect.TypeFor[wireMembership]()}, s.getMember)
	handle("POST /v1/spaces/{space}/members", call{method: "members.create", kind: "chat", write: true, params: []string{"useAdminAccess"}, answer: reflect.TypeFor[wireMembership]()}, s.createMember)
	handle("PATCH /v1/spaces/{space}/members/{member}", call{method: "members.patch", kind: "chat", write: true, params: []string{"updateMask", "useAdminAccess"}, answer: reflect.TypeFor[wireMembership]()}, s.patchMember)
	handle("DELETE /v1/spaces/{space}/members/{member}", call{method: "members.delete", kind: "chat", write: true, params: []string{"useAdminAccess"}, answer: reflect.TypeFor[wireMembership]()}, s.deleteMember)
	handle("GET /admin/directory/v1/users/{key}", call{method: "directory.users.get", kind: "directory",
		params: []string{"projection", "viewType", "customFieldMask"}, answer: reflect.TypeFor[wireDirectoryUser]()}, s.getDirectoryUser)
	handle("GET /admin/directory/v1/users", call{method: "directory.users.list", kind: "directory",
		params: []string{"customer", "domain", "maxResults", "pageToken", "query", "orderBy", "projection", "viewType", "showDeleted", "sortOrder", "customFieldMask", "event"}, answer: reflect.TypeFor[wireDirectoryList]()}, s.listDirectoryUsers)
	handle("GET /admin/directory/v1/groups/{key}", call{method: "directory.groups.get", kind: "directory", params: []string{}, answer: reflect.TypeFor[wireGroupResource]()}, s.getDirectoryGroup)
	handle("GET /admin/directory/v1/groups/{key}/members", call{method: "directory.members.list", kind: "directory",
		params: []string{"includeDerivedMembership", "maxResults", "pageToken", "roles"}, answer: reflect.TypeFor[wireGroupMembers]()}, s.listGroupMembers)
	s.mux.HandleFunc("GET /emulator/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	s.mux.HandleFunc("GET /emulator/state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Snapshot()) })
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %s is not a method this emulator serves", r.Method, r.URL.Path))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// discard captures a handler's answer that a fault throws away.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.status = code }

func (s *Server) middleware(c call, h func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	allowed := map[string]bool{}
	for _, p := range append(commonParams, c.params...) {
		allowed[p] = true
	}
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		reset := false
		defer func() {
			status := fmt.Sprint(rec.status)
			if reset {
				status = "reset"
			}
			s.mu.Lock()
			s.stats.Requests[c.method+" "+status]++
			s.mu.Unlock()
		}()
		// Quota is counted when the call arrives, as at Google's front end,
		// not after the call's latency: the answer, a refusal too, comes
		// after it.
		withinQuota := s.allow(c, r.PathValue("space"))
		s.sleep()
		if s.opts.RequireToken != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.RequireToken {
			writeError(rec, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
			return
		}
		mis, ok := s.misbehaviour(c.method)
		if ok && misbehave(rec, r, c.method, mis) {
			return
		}
		if ok && mis.LoopPages {
			r = r.WithContext(withLoopPages(r.Context()))
		}

		fault := s.drawFault()
		switch fault {
		case Fault500, Fault503, Fault429:
			s.countFault(fault)
			code, status := map[Fault]int{Fault500: 500, Fault503: 503, Fault429: 429}[fault], map[Fault]string{Fault500: "INTERNAL", Fault503: "UNAVAILABLE", Fault429: "RESOURCE_EXHAUSTED"}[fault]
			writeError(rec, code, status, "injected fault")
			return
		case FaultReset:
			s.countFault(fault)
			reset = true
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0) // RST, not FIN
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}

		if !withinQuota {
			s.mu.Lock()
			s.stats.QuotaRejections++
			s.mu.Unlock()
			if c.kind == "directory" {
				// The Admin SDK's documented answer (Directory API, Limits
				// and quotas): 403 userRateLimitExceeded, not Chat's 429.
				writeErrorReason(rec, http.StatusForbidden, "userRateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'")
				return
			}
			writeError(rec, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric '"+c.method+"'")
			return
		}
		for k := range r.URL.Query() {
			if !allowed[k] {
				writeError(rec, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter.", k))
				return
			}
		}
		if _, err := requestFields(r, c.answer); err != nil {
			writeAPIError(rec, err)
			return
		}
		if fault == FaultAppliedThen500 && c.write {
			s.countFault(fault)
			h(&discard{header: http.Header{}}, r)
			writeError(rec, http.StatusInternalServerError, "INTERNAL", "injected fault after the write was applied")
			return
		}
		if fault == FaultAppliedThen500 { // a read: an ordinary 500
			s.countFault(fault)
			writeError(rec, http.StatusInternalServerError, "INTERNAL", "injected fault")
			return
		}
		h(rec, r)
	}
}

func (s *Server) sleep() {
	if s.opts.LatencyMax <= 0 {
		return
	}
	d := s.opts.LatencyMin
	if spread := s.opts.LatencyMax - s.opts.LatencyMin; spread > 0 {
		s.mu.Lock()
		d += time.Duration(s.rng.Int64N(int64(spread)))
		s.mu.Unlock()
	}
	time.Sleep(d)
}

func (s *Server) drawFault() Fault {
	if s.opts.FaultRate <= 0 {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rng.Float64() >= s.opts.FaultRate {
		return ""
	}
	return s.opts.Faults[s.rng.IntN(len(s.opts.Faults))]
}

func (s *Server) countFault(f Fault) {
	s.mu.Lock()
	s.stats.Faults[string(f)]++
	s.mu.Unlock()
}

func (s *Server) allow(c call, space string) bool {
	now := time.Now()
	q := s.quotas
	switch c.kind {
	case "directory":
		return q.directory.allow(now)
	case "space":
		return q.spaceReads.allow(now) && q.spaceQuota("spaces/"+space).allow(now)
	}
	if c.write {
		return q.writes.allow(now)
	}
	return q.reads.allow(now) && q.spaceQuota("spaces/"+space).allow(now)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, wireError{Error: wireErrorBody{Code: code, Message: msg, Status: status}})
}

type apiError struct {
	code   int
	status string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int, status, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, msg: fmt.Sprintf(format, args...)}
}

func writeAPIError(w http.ResponseWriter, err *apiError) {
	writeError(w, err.code, err.status, err.msg)
}

// writeErrorReason answers as the Admin SDK does: a code, a message and an
// errors[].reason, no status string.
func writeErrorReason(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, wireError{Error: wireErrorBody{Code: code, Message: msg,
		Errors: []wireErrorItem{{Message: msg, Domain: "global", Reason: reason}}}})
}
