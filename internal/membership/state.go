package membership

// DesiredMember is one member a source says belongs in a space.
type DesiredMember struct {
	Principal Principal
	Role      Role // RoleUnmanaged when the source left it empty
	Source    Location
}

// DesiredSpace is everything the sources say about one space.
type DesiredSpace struct {
	Name    string // spaces/X
	Label   string
	Members []DesiredMember // sorted by Principal, no duplicates
	Source  Location        // first place the space was named
	// Policy overrides the config's for this space (create-only, upsert,
	// sync); empty means the config's.
	Policy   string
	PolicyAt Location
}

// Desired is the whole desired state, spaces sorted by name.
type Desired struct {
	Spaces []DesiredSpace
	// Totals counts the memberships each source file gave, by its path, for
	// noticing a source that shrank.
	Totals map[string]int
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
