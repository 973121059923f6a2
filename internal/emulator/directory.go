package emulator

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) directoryUser(u *user) wireDirectoryUser {
	return wireDirectoryUser{ID: u.id, PrimaryEmail: u.email, Aliases: u.aliases, NonEditableAliases: u.nonEditableAliases,
		Suspended: u.suspended, Kind: "admin#directory#user"}
}

func (s *Server) refuseDirectory(w http.ResponseWriter) bool {
	if s.opts.RefuseDirectory {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "Not Authorized to access this resource/api")
	}
	return s.opts.RefuseDirectory
}

func (s *Server) getDirectoryUser(w http.ResponseWriter, r *http.Request) {
	if s.refuseDirectory(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(r.PathValue("key"))
	if u := s.world.lookupUser(key); u != nil && !u.external {
		writeJSON(w, 200, s.directoryUser(u))
		return
	}
	if d := domainOf(key); d != "" && !s.world.domains[d] {
		// An address in a domain the customer doesn't own: Google answers
		// 403 forbidden or 400 (GAM treats both as "does not exist").
		if s.opts.ForeignDomainStatus == http.StatusBadRequest {
			writeErrorReason(w, 400, "badRequest", "Domain not found.")
		} else {
			writeErrorReason(w, 403, "forbidden", "Not Authorized to access this resource/api")
		}
		return
	}
	writeErrorReason(w, 404, "notFound", "Resource Not Found: userKey")
}

func (s *Server) listDirectoryUsers(w http.ResponseWriter, r *http.Request) {
	if s.refuseDirectory(w) {
		return
	}
	q := r.URL.Query()
	if q.Get("customer") == "" && q.Get("domain") == "" {
		writeError(w, 400, "INVALID_ARGUMENT", "Bad Request: customer or domain is required")
		return
	}
	max := 100
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, 400, "INVALID_ARGUMENT", "Invalid maxResults: must be between 1 and 500")
			return
		}
		max = n
	}
	query, qerr := parseUserQuery(q.Get("query"))
	if qerr != nil {
		writeAPIError(w, qerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var users []*user
	for _, u := range s.world.users {
		if !u.external && query.matches(u) {
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].email < users[j].email })
	loop := loopPages(r)
	offset, err := 0, (*apiError)(nil)
	if !loop {
		offset, err = parsePageToken("directory:"+q.Get("query"), q.Get("pageToken"))
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	out := wireDirectoryList{Kind: "admin#directory#users", Users: []wireDirectoryUser{}}
	end := min(offset+max, len(users))
	for _, u := range users[min(offset, len(users)):end] {
		out.Users = append(out.Users, s.directoryUser(u))
	}
	if end < len(users) {
		out.NextPageToken = pageToken("directory:"+q.Get("query"), end)
	}
	if loop {
		out.NextPageToken = loopToken
	}
	writeJSON(w, 200, out)
}
