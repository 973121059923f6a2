package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

func boolParam(r *http.Request, name string) (bool, *apiError) {
	v := r.URL.Query().Get(name)
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errorf(400, "INVALID_ARGUMENT", "Invalid value at '%s' (TYPE_BOOL), %q", name, v)
}

// lockedSpace finds a space; the caller holds s.mu.
func (s *Server) lockedSpace(r *http.Request) (*space, *apiError) {
	name := "spaces/" + r.PathValue("space")
	sp := s.world.spaces[name]
	if sp == nil {
		return nil, errorf(404, "NOT_FOUND", "Space %s not found or the caller is not a member.", name)
	}
	return sp, nil
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request) {
	admin, perr := boolParam(r, "useAdminAccess")
	if perr != nil {
		writeAPIError(w, perr)
		return
	}
	if s.opts.RefuseSpacesGet {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.lockedSpace(r)
	if err == nil {
		err = s.unreadable(sp, admin)
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeResource(w, r, wireSpace{Name: sp.name, SpaceType: sp.spaceType, DisplayName: sp.displayName})
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	admin, perr := boolParam(r, "useAdminAccess")
	if perr != nil {
		writeAPIError(w, perr)
		return
	}
	if raw := r.PathValue("member"); admin && (raw == "app" || raw != "" && raw == s.world.appID) {
		// The reference: "Getting app memberships in a space isn't supported when using admin access."
		writeError(w, 400, "INVALID_ARGUMENT", "Getting app memberships in a space isn't supported when using admin access.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.lockedSpace(r)
	if err == nil {
		err = s.unreadable(sp, admin)
	}
	var m *member
	if err == nil {
		sp, m, err = s.lockedMember(r)
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if m.state == stateInvited && s.opts.HideInvitedFromGets {
		writeError(w, 404, "NOT_FOUND", "Membership not found.")
		return
	}
	writeResource(w, r, s.world.wire(sp, m, !s.opts.HideEmails))
}

func (s *Server) lockedMember(r *http.Request) (*space, *member, *apiError) {
	sp, err := s.lockedSpace(r)
	if err != nil {
		return nil, nil, err
	}
	raw := r.PathValue("member")
	m := sp.members[s.world.memberKey(raw)]
	if m == nil {
		return nil, nil, errorf(404, "NOT_FOUND", "Membership %s/members/%s not found.", sp.name, raw)
	}
	return sp, m, nil
}

// filter is a parsed list filter: OR of AND groups of clauses.
type clause struct {
	field, op, value string
}

var clausePattern = regexp.MustCompile(`^\s*(role|member\.type)\s*(=|!=)\s*"([A-Z_]+)"\s*$`)

func parseFilter(f string, adminAccess bool) ([][]clause, *apiError) {
	if strings.TrimSpace(f) == "" {
		if adminAccess {
			return nil, errorf(400, "INVALID_ARGUMENT", `With useAdminAccess the filter must contain member.type = "HUMAN" or member.type != "BOT".`)
		}
		return nil, nil
	}
	var groups [][]clause
	humanOnly := false
	for _, part := range strings.Split(f, " OR ") {
		var group []clause
		for _, c := range strings.Split(part, " AND ") {
			m := clausePattern.FindStringSubmatch(c)
			if m == nil {
				return nil, errorf(400, "INVALID_ARGUMENT", "Invalid filter %q near %q.", f, strings.TrimSpace(c))
			}
			cl := clause{field: m[1], op: m[2], value: m[3]}
			if cl.field == "role" && cl.value != roleMember && cl.value != roleManager && cl.value != roleAssistantManager {
				return nil, errorf(400, "INVALID_ARGUMENT", "Invalid role %q in filter.", cl.value)
			}
			if cl.field == "member.type" && cl.value != "HUMAN" && cl.value != "BOT" {
				return nil, errorf(400, "INVALID_ARGUMENT", "Invalid member.type %q in filter.", cl.value)
			}
			switch {
			case cl.field == "member.type" && (cl.op == "=" && cl.value == "HUMAN" || cl.op == "!=" && cl.value == "BOT"):
				humanOnly = true
			case cl.field == "member.type" && adminAccess:
				// "Other member type filters will be rejected."
				return nil, errorf(400, "INVALID_ARGUMENT", `With useAdminAccess the only member.type filters are member.type = "HUMAN" and member.type != "BOT"; %q is not one.`, strings.TrimSpace(c))
			}
			for _, prev := range group {
				if prev.field == cl.field && prev.op == "=" && cl.op == "=" && prev.value != cl.value {
					return nil, errorf(400, "INVALID_ARGUMENT", "Contradictory filter %q.", f)
				}
			}
			group = append(group, cl)
		}
		groups = append(groups, group)
	}
	if adminAccess && !humanOnly {
		return nil, errorf(400, "INVALID_ARGUMENT", `With useAdminAccess the filter must contain member.type = "HUMAN" or member.type != "BOT".`)
	}
	return groups, nil
}

func matches(groups [][]clause, m *member) bool {
	if groups == nil {
		return true
	}
	for _, g := range groups {
		ok := true
		for _, c := range g {
			var v string
			if c.field == "role" {
				v = m.role
			} else {
				v = map[string]string{"HUMAN": "HUMAN", "BOT": "BOT", "GROUP": ""}[m.kind]
			}
			if (c.op == "=") != (v == c.value) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func pageToken(space string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(space + "|" + strconv.Itoa(offset)))
}

func parsePageToken(space, token string) (int, *apiError) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	parts := strings.SplitN(string(raw), "|", 2)
	if err != nil || len(parts) != 2 || parts[0] != space {
		return 0, errorf(400, "INVALID_ARGUMENT", "Invalid page token.")
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 {
		return 0, errorf(400, "INVALID_ARGUMENT", "Invalid page token.")
	}
	return n, nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var flags [3]bool
	for i, name := range []string{"showInvited", "showGroups", "useAdminAccess"} {
		v, err := boolParam(r, name)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		flags[i] = v
	}
	showInvited, showGroups, admin := flags[0], flags[1], flags[2]
	pageSize := 100
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("pageSize must be a non-negative integer, got %q", v))
			return
		}
		if n > 0 {
			pageSize = min(n, 1000)
		}
	}
	if s.opts.Caller == callerApp {
		// showInvited: "Currently requires user authentication"
		// (spaces.members.list): the app sees no invitation. (Whether
		// Google refuses the parameter or ignores it is not documented.)
		showInvited = false
	}
	groups, ferr := parseFilter(q.Get("filter"), admin)
	if ferr != nil {
		writeAPIError(w, ferr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.lockedSpace(r)
	if err == nil {
		err = s.unreadable(sp, admin)
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	loop := loopPages(r)
	// A token is for the list that gave it: "When paginating, all other
	// parameters provided should match the call that provided the page
	// token" (spaces.members.list). pageSize may change.
	listKey := fmt.Sprintf("%s %q %t %t %t", sp.name, q.Get("filter"), showInvited, showGroups, admin)
	offset, err := 0, (*apiError)(nil)
	if !loop {
		offset, err = parsePageToken(listKey, q.Get("pageToken"))
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	var visible []*member
	for _, m := range sortedMembers(sp) {
		switch {
		case m.state == stateInvited && !showInvited:
		case m.kind == "GROUP" && !showGroups:
		case m.kind == "BOT" && (admin || s.opts.Caller == callerApp):
			// "Listing app memberships in a space isn't supported when
			// using admin access"; app authentication "excludes Chat app
			// memberships, including its own" (spaces.members.list).
		case !matches(groups, m):
		default:
			visible = append(visible, m)
		}
	}
	end := min(offset+pageSize, len(visible))
	out := wireList{Memberships: make([]wireMembership, 0, max(0, end-offset))}
	for _, m := range visible[min(offset, len(visible)):end] {
		out.Memberships = append(out.Memberships, s.world.wire(sp, m, !s.opts.HideEmails))
	}
	if end < len(visible) {
		out.NextPageToken = pageToken(listKey, end)
	}
	if loop {
		out.NextPageToken = loopToken
	}
	writeResource(w, r, out)
}

func decodeBody(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(400, "INVALID_ARGUMENT", "Invalid JSON payload received. %v", err)
	}
	return nil
}

func (s *Server) createMember(w http.ResponseWriter, r *http.Request) {
	admin, perr := boolParam(r, "useAdminAccess")
	if perr != nil {
		writeAPIError(w, perr)
		return
	}
	var body wireMembership
	if err := decodeBody(r, &body); err != nil {
		writeAPIError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.lockedSpace(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if err := s.refuse(sp, admin, "create", nil, ""); err != nil {
		writeAPIError(w, err)
		return
	}
	m, err := s.newMember(sp, body, admin)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	sp.members[m.key()] = m
	s.stats.Creates[sp.name+" "+s.world.wire(sp, m, false).principal()]++
	s.wrote()
	writeResource(w, r, s.world.wire(sp, m, !s.opts.HideEmails))
}

func (wm wireMembership) principal() string {
	if wm.GroupMember != nil {
		return wm.GroupMember.Name
	}
	return wm.Member.Name
}

// newMember checks a create request and builds the membership it makes.
func (s *Server) newMember(sp *space, body wireMembership, admin bool) (*member, *apiError) {
	if (body.Member == nil) == (body.GroupMember == nil) {
		return nil, errorf(400, "INVALID_ARGUMENT", "Exactly one of member or groupMember must be set.")
	}
	// "To add the calling app to a space or a direct message between two
	// human users, use users/app": only people and groups are refused.
	if sp.spaceType == "DIRECT_MESSAGE" && (body.Member == nil || body.Member.Name != "users/app") {
		return nil, errorf(400, "FAILED_PRECONDITION", "Members can't be added to a direct message.")
	}
	// The role in a create body is ignored: every new membership is ROLE_MEMBER.
	m := &member{role: roleMember, state: stateJoined, seq: s.world.nextSeq()}
	if g := body.GroupMember; g != nil {
		id, ok := strings.CutPrefix(g.Name, "groups/")
		if !ok || id == "" {
			return nil, errorf(400, "INVALID_ARGUMENT", "Invalid group name %q; want groups/{group}.", g.Name)
		}
		if s.opts.Caller == callerApp {
			return nil, appUnsupported("Adding a Google Group to a space")
		}
		if sp.spaceType != "SPACE" {
			return nil, errorf(400, "INVALID_ARGUMENT", "Google Groups can only be added to named spaces; %s is a %s.", sp.name, sp.spaceType)
		}
		if !s.world.groups[id] {
			return nil, errorf(404, "NOT_FOUND", "Group %s not found.", g.Name)
		}
		m.id, m.kind, m.role = id, "GROUP", roleUnspecified
		if sp.holds(m.key()) {
			return nil, errorf(409, "ALREADY_EXISTS", "Membership already exists.")
		}
		return m, nil
	}
	key, ok := strings.CutPrefix(body.Member.Name, "users/")
	if !ok || key == "" {
		return nil, errorf(400, "INVALID_ARGUMENT", "Invalid user name %q; want users/{user}.", body.Member.Name)
	}
	if key == "app" {
		if body.Member.Type != "BOT" {
			return nil, errorf(400, "INVALID_ARGUMENT", "users/app must have type BOT.")
		}
		if admin {
			return nil, errorf(400, "INVALID_ARGUMENT", "Apps can't be added with admin access.")
		}
		if s.opts.Caller == callerApp {
			return nil, appUnsupported("Adding a Chat app to a space")
		}
		if sp.holds("app") {
			return nil, errorf(409, "ALREADY_EXISTS", "Membership already exists.")
		}
		m.id, m.kind = "app", "BOT"
		return m, nil
	}
	// "The memberType field must contain a user with the user.name and
	// user.type fields populated".
	if t := body.Member.Type; t != "HUMAN" {
		return nil, errorf(400, "INVALID_ARGUMENT", "Invalid member type %q for %s; a person is type HUMAN.", t, body.Member.Name)
	}
	u := s.world.lookupUser(key)
	if u == nil {
		return nil, errorf(404, "NOT_FOUND", "User %s not found.", body.Member.Name)
	}
	if u.external && s.opts.Caller == callerApp {
		return nil, appUnsupported("Inviting users external to the Workspace organization that owns the space")
	}
	if sp.holds(u.id) {
		return nil, errorf(409, "ALREADY_EXISTS", "Membership already exists.")
	}
	if u.suspended {
		return nil, errorf(400, "FAILED_PRECONDITION", "User %s is suspended.", body.Member.Name)
	}
	if u.external && admin {
		return nil, errorf(400, "INVALID_ARGUMENT", "Admin access can't add users outside the organization.")
	}
	if u.external && !strings.Contains(key, "@") {
		// The create guide: a user with a Google Account or in another
		// Workspace organisation is added as users/{email}; users/{id}
		// works only inside the organisation.
		return nil, errorf(400, "INVALID_ARGUMENT", "User %s is outside the organization; add them by email (users/{email}).", body.Member.Name)
	}
	m.id, m.kind = u.id, "HUMAN"
	if !u.autoAccept {
		m.state = stateInvited
	}
	return m, nil
}

// holds tells whether the space has a membership under key: one that is
// NOT_A_MEMBER ("doesn't belong to the space and doesn't have a pending
// invitation") is none, and a create makes it anew.
func (sp *space) holds(key string) bool {
	m := sp.members[key]
	return m != nil && m.state != stateNotAMember
}

func (s *Server) patchMember(w http.ResponseWriter, r *http.Request) {
	admin, perr := boolParam(r, "useAdminAccess")
	if perr != nil {
		writeAPIError(w, perr)
		return
	}
	mask := r.URL.Query().Get("updateMask")
	if mask == "" {
		writeError(w, 400, "INVALID_ARGUMENT", "updateMask is required.")
		return
	}
	for _, f := range strings.Split(mask, ",") {
		// "*" means every updatable field, which is role.
		if f := strings.TrimSpace(f); f != "role" && f != "*" {
			writeError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid updateMask field %q; only role can be updated.", f))
			return
		}
	}
	var body wireMembership
	if err := decodeBody(r, &body); err != nil {
		writeAPIError(w, err)
		return
	}
	if body.Role != roleMember && body.Role != roleAssistantManager && body.Role != roleManager {
		writeError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid role %q.", body.Role))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, m, err := s.lockedMember(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if m.kind != "GROUP" {
		if err := s.refuse(sp, admin, "patch", m, body.Role); err != nil {
			writeAPIError(w, err)
			return
		}
	}
	switch {
	case m.kind == "GROUP":
		writeError(w, 400, "INVALID_ARGUMENT", "The role of a group membership can't be updated.")
		return
	case m.state == stateInvited && s.opts.RefuseInvitedRoleChanges:
		writeError(w, 400, "FAILED_PRECONDITION", "The member has not accepted the invitation yet.")
		return
	case sp.spaceType != "SPACE" && body.Role != roleMember:
		writeError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Only ROLE_MEMBER exists in a %s.", sp.spaceType))
		return
	case m.role == roleManager && body.Role != roleManager && m.state == stateJoined && s.world.owners(sp) == 1:
		writeError(w, 400, "FAILED_PRECONDITION", "The last owner of a space can't be demoted.")
		return
	}
	if m.role != body.Role {
		s.wrote()
	}
	m.role = body.Role
	writeResource(w, r, s.world.wire(sp, m, !s.opts.HideEmails))
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	admin, err0 := boolParam(r, "useAdminAccess")
	if err0 != nil {
		writeAPIError(w, err0)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, m, err := s.lockedMember(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if admin && m.kind == "BOT" {
		// "Deleting app memberships in a space isn't supported using admin
		// access."
		writeError(w, 400, "INVALID_ARGUMENT", "App memberships can't be deleted with admin access.")
		return
	}
	if err := s.refuse(sp, admin, "delete", m, ""); err != nil {
		writeAPIError(w, err)
		return
	}
	if m.role == roleManager && m.state == stateJoined && s.world.owners(sp) == 1 {
		writeError(w, 400, "FAILED_PRECONDITION", "The last owner of a space can't be removed.")
		return
	}
	if m.via != "" {
		writeError(w, 400, "FAILED_PRECONDITION", fmt.Sprintf("The member is in the space through the Google Group groups/%s and can't be removed directly.", m.via))
		return
	}
	out := s.world.wire(sp, m, !s.opts.HideEmails)
	delete(sp.members, m.key())
	if m.kind == "GROUP" {
		// Google removes the people in the space through the group with
		// it (Chat help 13535086).
		// Someone another group in the space holds too stays through it
		// ("group member memberships are tied to the space via the group").
		for k, o := range sp.members {
			if o.via != m.id {
				continue
			}
			if other := s.world.otherGroupHolding(sp, m.id, o.id); other != "" {
				o.via = other
				continue
			}
			delete(sp.members, k)
		}
	}
	s.wrote()
	writeResource(w, r, out)
}
