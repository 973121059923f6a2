package emulator

// Wire types: the JSON the Chat and Directory REST APIs speak. Defined here,
// not borrowed from the client library, so tests with the official client
// check real wire compatibility.

const (
	roleMember           = "ROLE_MEMBER"
	roleAssistantManager = "ROLE_ASSISTANT_MANAGER" // "Manager" in the UI
	roleManager          = "ROLE_MANAGER"           // "Owner" in the UI
	roleUnspecified      = "MEMBERSHIP_ROLE_UNSPECIFIED"

	stateJoined  = "JOINED"
	stateInvited = "INVITED"
	// stateNotAMember: "The user doesn't belong to the space and doesn't
	// have a pending invitation to join the space" (Membership.state).
	stateNotAMember = "NOT_A_MEMBER"
)

type wireUser struct {
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
	Type        string `json:"type,omitempty"`
}

type wireGroup struct {
	Name string `json:"name,omitempty"`
}

type wireMembership struct {
	Name        string     `json:"name,omitempty"`
	State       string     `json:"state,omitempty"`
	Role        string     `json:"role,omitempty"`
	Member      *wireUser  `json:"member,omitempty"`
	GroupMember *wireGroup `json:"groupMember,omitempty"`
	CreateTime  string     `json:"createTime,omitempty"`
}

type wireList struct {
	Memberships   []wireMembership `json:"memberships,omitempty"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
}

type wireSpace struct {
	Name        string `json:"name"`
	SpaceType   string `json:"spaceType"`
	DisplayName string `json:"displayName,omitempty"`
}

type wireDirectoryUser struct {
	ID           string   `json:"id"`
	PrimaryEmail string   `json:"primaryEmail"`
	OrgUnitPath  string   `json:"orgUnitPath,omitempty"`
	Aliases      []string `json:"aliases,omitempty"`
	// NonEditableAliases are addresses in the customer's alias domains.
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
	Suspended          bool     `json:"suspended"`
	Archived           bool     `json:"archived,omitempty"`
	Kind               string   `json:"kind"`
}

type wireDirectoryList struct {
	Kind          string              `json:"kind"`
	Users         []wireDirectoryUser `json:"users"`
	NextPageToken string              `json:"nextPageToken,omitempty"`
}

type wireError struct {
	Error wireErrorBody `json:"error"`
}

type wireErrorBody struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Status  string          `json:"status,omitempty"`
	Errors  []wireErrorItem `json:"errors,omitempty"`
}

type wireErrorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

type wireGroupResource struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Email string `json:"email"`
}

type wireGroupMember struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Email  string `json:"email,omitempty"` // a CUSTOMER member has none
	Role   string `json:"role"`
	Type   string `json:"type"`
	Status string `json:"status,omitempty"`
}

type wireGroupMembers struct {
	Kind          string            `json:"kind"`
	Members       []wireGroupMember `json:"members,omitempty"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
}
