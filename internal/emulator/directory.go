package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) directoryUser(u *user) wireDirectoryUser {
	return wireDirectoryUser{ID: u.id, PrimaryEmail: u.email, Aliases: u.aliases, NonEditableAliases: u.nonEditableAliases,
		Suspended: u.suspended, Archived: u.archived, OrgUnitPath: u.orgUnit, Kind: "admin#directory#user"}
}

// writeDirectoryError answers a refused Directory request as the Admin SDK
// does: errors[].reason (invalid, for a value it can't take) and no status
// string, not Chat's form.
func writeDirectoryError(w http.ResponseWriter, err *apiError) {
	reason := "invalid"
	if err.code == http.StatusNotFound {
		reason = "notFound"
	}
	writeErrorReason(w, err.code, reason, err.msg)
}

func (s *Server) refuseDirectory(w http.ResponseWriter) bool {
	if s.opts.RefuseDirectory {
		// The Admin SDK's answer to a caller who isn't an admin: 403,
		// errors[].reason forbidden, no status string.
		writeErrorReason(w, http.StatusForbidden, "forbidden", "Not Authorized to access this resource/api")
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
		writeResource(w, r, s.directoryUser(u))
		return
	}
	if d := domainOf(key); d != "" && !s.world.domains[d] && !s.opts.ForeignDomainNoSuchUser {
		// An address in a domain the customer doesn't own: Google answers
		// 403 forbidden, 400 or 404 "Domain not found" (GAM treats each as
		// "does not exist"), or as it answers nobody (below).
		switch s.opts.ForeignDomainStatus {
		case http.StatusBadRequest:
			writeErrorReason(w, 400, "badRequest", "Domain not found.")
		case http.StatusNotFound:
			writeErrorReason(w, 404, "notFound", "Domain not found.")
		default:
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
		writeErrorReason(w, 400, "badRequest", "Bad Request")
		return
	}
	max := 100
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeErrorReason(w, 400, "invalid", "Invalid Input: maxResults must be between 1 and 500")
			return
		}
		max = n
	}
	// users.list: orderBy "email", "familyName" or "givenName"; sortOrder
	// "ASCENDING" or "DESCENDING". The emulator has no names: any orderBy
	// sorts by email.
	switch q.Get("orderBy") {
	case "", "email", "familyName", "givenName":
	default:
		writeErrorReason(w, 400, "invalid", fmt.Sprintf("Invalid Input: orderBy %q", q.Get("orderBy")))
		return
	}
	descending := false
	switch q.Get("sortOrder") {
	case "", "ASCENDING":
	case "DESCENDING":
		descending = true
	default:
		writeErrorReason(w, 400, "invalid", fmt.Sprintf("Invalid Input: sortOrder %q", q.Get("sortOrder")))
		return
	}
	query, qerr := parseUserQuery(q.Get("query"))
	if qerr != nil {
		writeDirectoryError(w, qerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	users := s.world.listUsers(q.Get("query"), query)
	tokenKey := "directory:" + q.Get("query")
	if d := strings.ToLower(q.Get("domain")); d != "" && q.Get("customer") == "" {
		tokenKey += " domain:" + d
		// One domain's users: Google refuses a domain the customer
		// doesn't have (403, as for a caller who may not list).
		if !s.world.domains[d] {
			writeErrorReason(w, 403, "forbidden", "Not Authorized to access this resource/api")
			return
		}
		users = slices.DeleteFunc(slices.Clone(users), func(u *user) bool { return domainOf(u.email) != d })
	}
	if descending {
		tokenKey += " descending"
		users = slices.Clone(users) // the cached list is shared
		slices.Reverse(users)
	}
	loop := loopPages(r)
	offset, err := 0, (*apiError)(nil)
	if !loop {
		offset, err = parsePageToken(tokenKey, q.Get("pageToken"))
	}
	if err != nil {
		writeDirectoryError(w, err)
		return
	}
	end := min(offset+max, len(users))
	// Sized once: grown user by user, a pass over a million users made
	// twice the page's size in garbage for every page.
	out := wireDirectoryList{Kind: "admin#directory#users", Users: make([]wireDirectoryUser, 0, end-min(offset, end))}
	for _, u := range users[min(offset, len(users)):end] {
		out.Users = append(out.Users, s.directoryUser(u))
	}
	if end < len(users) {
		out.NextPageToken = pageToken(tokenKey, end)
	}
	if loop {
		out.NextPageToken = loopToken
	}
	writeResource(w, r, out)
}

func (s *Server) getDirectoryGroup(w http.ResponseWriter, r *http.Request) {
	if s.refuseDirectory(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupAt(w, r)
	if g == nil {
		return
	}
	writeResource(w, r, wireGroupResource{Kind: "admin#directory#group", ID: g.id, Email: g.email})
}

// groupAt is the Directory group the request's {key} names, or nil after
// answering 404 as Google does; the caller holds s.mu.
func (s *Server) groupAt(w http.ResponseWriter, r *http.Request) *group {
	// An ID as groups.get gives it (its case kept), else an address,
	// whose case doesn't count.
	key := r.PathValue("key")
	g := s.world.dir[key]
	if g == nil {
		g = s.world.dir[strings.ToLower(key)]
	}
	if g == nil {
		writeErrorReason(w, 404, "notFound", "Resource Not Found: groupKey")
	}
	return g
}

func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request) {
	if s.refuseDirectory(w) {
		return
	}
	q := r.URL.Query()
	max := 200
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeErrorReason(w, 400, "invalid", "Invalid Input: maxResults must be between 1 and 200")
			return
		}
		max = n
	}
	derived, perr := boolParam(r, "includeDerivedMembership")
	if perr != nil {
		writeDirectoryError(w, perr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupAt(w, r)
	if g == nil {
		return
	}
	all := s.world.groupMembers(g, derived, map[string]bool{})
	key := "members:" + g.id + ":" + q.Get("includeDerivedMembership")
	offset, err := 0, (*apiError)(nil)
	if !loopPages(r) {
		offset, err = parsePageToken(key, q.Get("pageToken"))
	}
	if err != nil {
		writeDirectoryError(w, err)
		return
	}
	out := wireGroupMembers{Kind: "admin#directory#members"}
	end := min(offset+max, len(all))
	out.Members = all[min(offset, len(all)):end]
	if end < len(all) {
		out.NextPageToken = pageToken(key, end)
	}
	if loopPages(r) {
		out.NextPageToken = loopToken
	}
	writeResource(w, r, out)
}

// customerID is the emulated organisation's customer ID.
const customerID = "C01emulated"

// groupMembers lists a group's members; derived adds, recursively, the
// members of the groups in it (nested groups are listed too, as GROUP).
func (w *world) groupMembers(g *group, derived bool, seen map[string]bool) []wireGroupMember {
	seen[g.id] = true
	var out []wireGroupMember
	for _, email := range g.members {
		if email == "*" {
			// Everyone in the domain: one member, the customer, with no
			// email, whatever includeDerivedMembership says.
			out = append(out, wireGroupMember{Kind: "admin#directory#member", ID: customerID, Role: "MEMBER", Type: "CUSTOMER"})
			continue
		}
		if sub := w.dir[email]; sub != nil {
			out = append(out, wireGroupMember{Kind: "admin#directory#member", ID: sub.id, Email: sub.email, Role: "MEMBER", Type: "GROUP"})
			if derived && !seen[sub.id] {
				out = append(out, w.groupMembers(sub, true, seen)...)
			}
			continue
		}
		if u := w.lookupUser(email); u != nil {
			status := "ACTIVE"
			switch {
			case u.suspended:
				status = "SUSPENDED"
			case u.archived:
				status = "ARCHIVED"
			}
			out = append(out, wireGroupMember{Kind: "admin#directory#member", ID: u.id, Email: u.email, Role: "MEMBER", Type: "USER", Status: status})
		}
	}
	return out
}

// warmDirectory sorts the Directory once, when the emulator starts: the
// first users.list and the first prefix query would otherwise sort every
// user while holding the emulator's lock, a delay Google's Directory
// doesn't have.
func (w *world) warmDirectory() {
	w.addressIndex()
	w.listUsers("", nil)
}

// listUsers is the users a query matches, by email: computed once per
// query while the Directory doesn't change, so paging a 100,000-user
// Directory is not a sort per page.
func (w *world) listUsers(raw string, query userQuery) []*user {
	if l, ok := w.listed[raw]; ok && l.version == w.dirVersion {
		return l.users
	}
	var users []*user
	if prefix, ok := emailPrefix(raw); ok {
		// An email:PREFIX* query reads only the addresses under the prefix,
		// not every user: a pass split into many prefix queries over a
		// million users is otherwise a million-user scan per query.
		idx := w.addressIndex()
		i := sort.Search(len(idx), func(i int) bool { return idx[i].addr >= prefix })
		for ; i < len(idx) && strings.HasPrefix(idx[i].addr, prefix); i++ {
			if query.matches(idx[i].u) {
				users = append(users, idx[i].u)
			}
		}
	} else {
		for _, u := range w.users {
			if !u.external && !u.unsearched && query.matches(u) {
				users = append(users, u)
			}
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].email < users[j].email })
	users = slices.Compact(users) // a user found by two of their addresses
	if w.listed == nil {
		w.listed = map[string]listedUsers{}
	}
	w.listed[raw] = listedUsers{version: w.dirVersion, users: users}
	return users
}

// MoveUser puts a Directory user in another organisational unit, as HR
// does between runs (tests and demos).
func (s *Server) MoveUser(email, orgUnit string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.world.lookupUser(strings.ToLower(email))
	if u == nil {
		return fmt.Errorf("no Directory user %s", email)
	}
	u.orgUnit = orgUnit
	s.world.dirVersion++
	return nil
}

// addrEntry is one address of a listed (non-external) user.
type addrEntry struct {
	addr string
	u    *user
}

// addressIndex is every address (primary and editable aliases) of every
// non-external user, sorted, rebuilt when the Directory changes.
func (w *world) addressIndex() []addrEntry {
	if w.addrs != nil && w.addrsVersion == w.dirVersion {
		return w.addrs
	}
	idx := make([]addrEntry, 0, len(w.users))
	for _, u := range w.users {
		if u.external || u.unsearched {
			continue
		}
		idx = append(idx, addrEntry{u.email, u})
		for _, a := range u.aliases {
			idx = append(idx, addrEntry{a, u})
		}
	}
	slices.SortFunc(idx, func(a, b addrEntry) int { return strings.Compare(a.addr, b.addr) })
	w.addrs, w.addrsVersion = idx, w.dirVersion
	return idx
}

// emailPrefix is the prefix of an email:PREFIX* clause of a query, if any.
func emailPrefix(raw string) (string, bool) {
	clauses, ok := queryClauses(raw)
	if !ok {
		return "", false
	}
	for _, c := range clauses {
		field, op, value, ok := splitClause(c)
		value = strings.Trim(value, "'\"")
		if ok && field == "email" && op == ":" && strings.HasSuffix(value, "*") {
			return strings.ToLower(strings.TrimSuffix(value, "*")), true
		}
	}
	return "", false
}
