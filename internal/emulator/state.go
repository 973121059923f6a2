package emulator

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

type user struct {
	id, email          string
	aliases            []string
	nonEditableAliases []string // addresses in the customer's alias domains
	autoAccept         bool
	external           bool
	unsearched         bool // users.list does not show it yet
	suspended          bool
	archived           bool
	orgUnit            string
	department         string
}

// group is a Google Group in the Directory.
type group struct {
	id, email string
	members   []string // emails of users and groups
}

type member struct {
	id    string // the user's numeric ID, the group's ID, or "app"
	kind  string // HUMAN, GROUP, BOT
	role  string
	state string
	seq   int    // creation order, for stable listing
	via   string // the group a user is in the space through, if any
}

// key is what follows members/ in the membership's name. Google documents
// users/{id} for people and app for the calling app; for groups it says
// nothing, and GAM builds group-{id}. Clients must use the name a list or
// create returned, never build one, so the emulator uses GAM's form.
func (m *member) key() string {
	if m.kind == "GROUP" {
		return "group-" + m.id
	}
	return m.id
}

type space struct {
	name, spaceType, displayName string
	members                      map[string]*member // by member.key()
	manageMembers                string             // SeedSpace.ManageMembers
	appCreated                   bool
}

// world is the emulator's data; the server's mutex guards it.
type world struct {
	users   map[string]*user  // by id
	byEmail map[string]*user  // primary emails and aliases, lower-cased
	domains map[string]bool   // the customer's domains: those of its users
	groups  map[string]bool   // every group ID a space may name
	dir     map[string]*group // Directory groups, by id and by email
	spaces  map[string]*space
	seq     int
	// dirVersion counts Directory changes; listed caches users.list
	// answers (every page of a query reads one list) until it moves.
	dirVersion int
	listed     map[string]listedUsers
	// addrs indexes every address for prefix queries, at addrsVersion.
	addrs        []addrEntry
	addrsVersion int
	appID        string // Options.AppID
	byAddress    bool   // Options.NameMembersByAddress
}

type listedUsers struct {
	version int
	users   []*user
}

func newWorld(seed *Seed) (*world, error) {
	w := &world{users: map[string]*user{}, byEmail: map[string]*user{}, domains: map[string]bool{}, groups: map[string]bool{},
		dir: map[string]*group{}, spaces: map[string]*space{}}
	if seed == nil {
		return w, nil
	}
	for _, su := range seed.Users {
		if su.ID == "" || su.Email == "" {
			return nil, fmt.Errorf("seed user %+v needs id and email", su)
		}
		u := &user{id: su.ID, email: strings.ToLower(su.Email), external: su.External, unsearched: su.Unsearched, suspended: su.Suspended, archived: su.Archived, autoAccept: su.AutoAccept == nil || *su.AutoAccept,
			orgUnit: su.OrgUnit, department: su.Department}
		if u.orgUnit == "" {
			u.orgUnit = "/"
		}
		for _, a := range su.Aliases {
			u.aliases = append(u.aliases, strings.ToLower(a))
		}
		for _, a := range su.NonEditableAliases {
			u.nonEditableAliases = append(u.nonEditableAliases, strings.ToLower(a))
		}
		// An address (and an ID) names one user, as for groups below:
		// the last one seeded would otherwise answer for it.
		if other := w.users[u.id]; other != nil {
			return nil, fmt.Errorf("seed user %s: ID %s is user %s's too", u.email, u.id, other.email)
		}
		w.users[u.id] = u
		for _, a := range append([]string{u.email}, append(u.aliases, u.nonEditableAliases...)...) {
			if other := w.byEmail[a]; other != nil && other != u {
				return nil, fmt.Errorf("seed user %s: %s is an address of user %s", u.id, a, other.id)
			}
			w.byEmail[a] = u
		}
		if !u.external {
			w.domains[domainOf(u.email)] = true
			for _, a := range u.nonEditableAliases {
				w.domains[domainOf(a)] = true
			}
		}
	}
	for _, d := range seed.Domains {
		w.domains[strings.ToLower(d)] = true
	}
	for _, sg := range seed.Groups {
		g := &group{id: strings.TrimPrefix(sg.ID, "groups/"), email: strings.ToLower(sg.Email)}
		for _, m := range sg.Members {
			g.members = append(g.members, strings.ToLower(m))
		}
		if other := w.dir[g.id]; other != nil {
			return nil, fmt.Errorf("seed group %s: the ID is given twice (%q and %q)", g.id, other.email, g.email)
		}
		w.groups[g.id] = true
		w.dir[g.id] = g
		addrs := []string{g.email}
		for _, a := range sg.Aliases {
			addrs = append(addrs, strings.ToLower(a))
		}
		for i, a := range addrs {
			if a == "" && i == 0 {
				continue // no email: known by its ID only
			}
			// An address names one thing: Google refuses an alias or a
			// group email that is a user's or another group's, and the
			// emulator would answer it as two (groups.get of a user's
			// email finding the group, a group listing the user as a
			// nested group, the last group seeded taking the address).
			if !strings.Contains(a, "@") {
				return nil, fmt.Errorf("seed group %s: %q is no email address", g.id, a)
			}
			if u := w.byEmail[a]; u != nil {
				return nil, fmt.Errorf("seed group %s: %s is an address of user %s", g.id, a, u.id)
			}
			if other := w.dir[a]; other != nil && other != g {
				return nil, fmt.Errorf("seed group %s: %s is an address of group %s", g.id, a, other.id)
			}
			// groups.get and members.list: "The value can be the group's
			// email address, group alias, or the unique group ID".
			w.dir[a] = g
			// A group's addresses, aliases too, are in the customer's
			// domains (an alias domain among them).
			w.domains[domainOf(a)] = true
		}
	}
	for _, ss := range seed.Spaces {
		name := ss.Name
		if !strings.HasPrefix(name, "spaces/") {
			name = "spaces/" + name
		}
		t := ss.Type
		if t == "" {
			t = "SPACE"
		}
		manage, err := seedManageMembers(ss.ManageMembers)
		if err != nil {
			return nil, fmt.Errorf("seed space %s: %w", name, err)
		}
		sp := &space{name: name, spaceType: t, displayName: ss.DisplayName, members: map[string]*member{}, manageMembers: manage, appCreated: ss.AppCreated}
		w.spaces[name] = sp
		for _, sm := range ss.Members {
			m := &member{state: stateJoined, seq: w.nextSeq()}
			if sm.State != "" {
				m.state = strings.ToUpper(sm.State)
			}
			role, err := seedRole(sm.Role)
			if err != nil {
				return nil, fmt.Errorf("seed space %s: %w", name, err)
			}
			m.role = role
			switch {
			case sm.App:
				m.id, m.kind = "app", "BOT"
			case sm.Group != "":
				m.id, m.kind, m.role = strings.TrimPrefix(sm.Group, "groups/"), "GROUP", roleUnspecified
				w.groups[m.id] = true
			case sm.User != "":
				u := w.lookupUser(strings.TrimPrefix(sm.User, "users/"))
				if u == nil {
					return nil, fmt.Errorf("seed space %s: unknown user %q", name, sm.User)
				}
				m.id, m.kind, m.via = u.id, "HUMAN", strings.TrimPrefix(sm.ViaGroup, "groups/")
				if m.via != "" {
					// In the space through the group: in the group too.
					g := w.dir[m.via]
					if g == nil {
						g = &group{id: m.via}
						w.dir[m.via], w.groups[m.via] = g, true
					}
					if !slices.Contains(g.members, u.email) {
						g.members = append(g.members, u.email)
					}
				}
			default:
				return nil, fmt.Errorf("seed space %s: a member needs user, group or app", name)
			}
			sp.members[m.key()] = m
		}
	}
	return w, nil
}

func domainOf(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}

func (w *world) nextSeq() int { w.seq++; return w.seq }

// lookupUser finds a user by numeric ID or by email (primary or alias).
func (w *world) lookupUser(key string) *user {
	if u, ok := w.users[key]; ok {
		return u
	}
	return w.byEmail[strings.ToLower(key)]
}

// memberKey turns the {member} of spaces/X/members/{member} into a member
// map key: a user's ID or email alias, "app", or a group membership's key.
func (w *world) memberKey(raw string) string {
	if raw == w.appID && raw != "" {
		return "app"
	}
	if strings.Contains(raw, "@") {
		if u := w.lookupUser(raw); u != nil {
			return u.id
		}
		return ""
	}
	return raw
}

// otherGroupHolding names a group in sp, other than except, whose
// members (nested ones too) include the user uid; "" when none.
func (w *world) otherGroupHolding(sp *space, except, uid string) string {
	var ids []string
	for _, m := range sp.members {
		if m.kind == "GROUP" && m.id != except {
			ids = append(ids, m.id)
		}
	}
	slices.Sort(ids)
	u := w.users[uid]
	for _, id := range ids {
		g := w.dir[id]
		if g == nil {
			continue
		}
		for _, gm := range w.groupMembers(g, true, map[string]bool{}) {
			if gm.Type == "USER" && gm.ID == uid || gm.Type == "CUSTOMER" && u != nil && !u.external {
				return id
			}
		}
	}
	return ""
}

func (w *world) owners(sp *space) int {
	n := 0
	for _, m := range sp.members {
		if m.role == roleManager && m.state == stateJoined {
			n++
		}
	}
	return n
}

// wire renders a membership as the API does: canonical names only.
func (w *world) wire(sp *space, m *member, withEmail bool) wireMembership {
	out := wireMembership{Name: sp.name + "/members/" + m.key(), State: m.state, Role: m.role, CreateTime: "2026-01-01T00:00:00Z"}
	switch m.kind {
	case "GROUP":
		out.GroupMember = &wireGroup{Name: "groups/" + m.id}
	case "BOT":
		out.Member = &wireUser{Name: "users/app", Type: "BOT", DisplayName: "Syncer app"}
		if w.appID != "" {
			out.Name, out.Member.Name = sp.name+"/members/"+w.appID, "users/"+w.appID
		}
	default:
		wu := &wireUser{Name: "users/" + m.id, Type: "HUMAN"}
		// Google fills in email "if they are members of the space or have
		// prior affinity with the calling user": someone only invited is
		// not a member yet, and the emulator has no affinity.
		if withEmail && m.state != stateInvited { // a look among a million users costs
			if u := w.users[m.id]; u != nil {
				wu.Email = u.email
				wu.DisplayName = strings.SplitN(u.email, "@", 2)[0]
			}
		}
		if w.byAddress {
			if u := w.users[m.id]; u != nil {
				wu.Name = "users/" + u.email
			}
		}
		out.Member = wu
	}
	return out
}

// sortedMembers lists a space's members in creation order.
func sortedMembers(sp *space) []*member {
	ms := make([]*member, 0, len(sp.members))
	for _, m := range sp.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	return ms
}

// Accept accepts a pending invitation, as the invited user does in Chat
// (tests and demos): the membership becomes JOINED.
func (s *Server) Accept(space, email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.world.spaces[space]
	u := s.world.lookupUser(strings.ToLower(email))
	if sp == nil || u == nil {
		return fmt.Errorf("no space %s or user %s", space, email)
	}
	m := sp.members[u.id]
	if m == nil || m.state != stateInvited {
		return fmt.Errorf("%s has no pending invitation to %s", email, space)
	}
	m.state = stateJoined
	return nil
}
