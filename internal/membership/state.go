package membership

import "fmt"

// DesiredMember is one member a source says belongs in a space.
type DesiredMember struct {
	Principal Principal
	Role      Role // RoleUnmanaged when the source left it empty
	Source    Pos  // where it was written (Source.Location())
}

// RuleKind is how a Directory rule names members.
type RuleKind string

const (
	// RuleGroup is a Google Group named by email, itself one member: the
	// Directory gives its groups/{id}.
	RuleGroup RuleKind = "group"
	// RuleGroupMembers are a group's members, as people.
	RuleGroupMembers RuleKind = "group_members"
	// RuleOrgUnit are the users of an organisational unit.
	RuleOrgUnit RuleKind = "org_unit"
	// RuleQuery are the users a Directory query finds.
	RuleQuery RuleKind = "query"
)

// Rule names members through the Directory; it is expanded into plain
// desired members before planning.
type Rule struct {
	Kind  RuleKind
	Value string // an email, an OU path, or a query
	Role  Role
	// Nested: group_members includes the members of groups in the group.
	Nested bool
	// IncludeChildren: org_unit includes the OU's sub-units (default true).
	IncludeChildren bool
	// AllowEmpty: an expansion that finds nobody is not an error.
	AllowEmpty bool
	Source     Location
}

// Key identifies what a rule asks the Directory, so equal rules in many
// spaces are asked once.
func (r Rule) Key() string {
	return fmt.Sprintf("%s|%s|%t|%t", r.Kind, r.Value, r.Nested, r.IncludeChildren)
}

// Describe is the rule as written, for provenance: group_members eng@example.com.
func (r Rule) Describe() string {
	s := string(r.Kind) + " " + r.Value
	if r.Nested {
		s += " (nested)"
	}
	if r.Kind == RuleOrgUnit && !r.IncludeChildren {
		s += " (this unit only)"
	}
	return s
}

// DesiredSpace is everything the sources say about one space.
type DesiredSpace struct {
	Name    string // spaces/X
	Label   string
	Members []DesiredMember // sorted by Principal, no duplicates
	// Rules name more members through the Directory; expanded (into
	// Members) before planning.
	Rules  []Rule
	Source Location // first place the space was named
	// Policy overrides the config's for this space (create-only, upsert,
	// sync); empty means the config's.
	Policy   string
	PolicyAt Location
}

// Desired is the whole desired state, spaces sorted by name.
type Desired struct {
	Spaces []DesiredSpace
	// Totals counts the memberships each source file gave, by its path, for
	// noticing a source that shrank. A member a file repeats in a space
	// counts once; Repeats counts the rows left out so (a state saved
	// before totals left them out compares with Totals + Repeats).
	Totals  map[string]int
	Repeats map[string]int
}

// Count is the number of desired memberships over all spaces.
func (d Desired) Count() int {
	n := 0
	for _, s := range d.Spaces {
		n += len(s.Members)
	}
	return n
}

// State is a membership's state as the API reports it.
type State string

const (
	StateJoined  State = "JOINED"
	StateInvited State = "INVITED"
)

// SpaceType is the API's spaceType; roles other than member, and groups,
// exist only in TypeSpace.
type SpaceType string

const (
	TypeSpace         SpaceType = "SPACE"
	TypeGroupChat     SpaceType = "GROUP_CHAT"
	TypeDirectMessage SpaceType = "DIRECT_MESSAGE"
)

// Membership is one current membership of a space.
type Membership struct {
	Name      string    // spaces/X/members/Y
	Principal Principal // canonical users/{id} or groups/{id}
	Email     string    // lower-cased; "" when the API did not say
	Role      Role
	State     State
	Bot       bool // apps are never touched
}

// SpaceState is what a space holds now.
type SpaceState struct {
	Name        string
	Type        SpaceType
	DisplayName string
	Memberships []Membership
	// Unnamed counts the memberships the list showed naming no member (a
	// fault on the server's side): left out of Memberships, who they are
	// is unknown, and the plan says it could not see them.
	Unnamed int
}

// Current is what the API says the managed spaces hold, plus what is known
// about who is who.
type Current struct {
	Spaces map[string]*SpaceState
	// Aliases maps lower-cased emails to canonical users/{id} principals,
	// learned outside the list responses (e.g. the Directory).
	Aliases map[string]Principal
	// Suspended holds suspended users, by users/{email} and users/{id}.
	Suspended map[Principal]bool
	// ResolvedBy says how each email was matched to an ID: list,
	// cache, directory or member-get.
	ResolvedBy map[string]string
}
