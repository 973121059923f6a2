package emulator

import (
	"net/http"
	"sort"
	"strconv"
)

func (s *Server) directoryUser(u *user) wireDirectoryUser {
	return wireDirectoryUser{ID: u.id, PrimaryEmail: u.email, Aliases: u.aliases, Suspended: u.suspended, Kind: "admin#directory#user"}
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
	u := s.world.lookupUser(r.PathValue("key"))
	if u == nil || u.external {
		writeError(w, 404, "NOT_FOUND", "Resource Not Found: userKey")
		return
	}
	writeJSON(w, 200, s.directoryUser(u))
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
	s.mu.Lock()
	defer s.mu.Unlock()
	var users []*user
	for _, u := range s.world.users {
		if !u.external {
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].email < users[j].email })
	offset, err := parsePageToken("directory", q.Get("pageToken"))
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
		out.NextPageToken = pageToken("directory", end)
	}
	writeJSON(w, 200, out)
}
