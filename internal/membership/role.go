package membership

import (
	"fmt"
	"strings"
)

// Role is a membership role as the API spells it. The zero value means the
// role is not managed: a new member joins as ROLE_MEMBER and an existing
// member keeps whatever role they have.
//
// The API's names are a trap: ROLE_MANAGER is the space *owner*, and the
// Chat UI's "Manager" is ROLE_ASSISTANT_MANAGER. The constants below are named
// after what the roles can do, so code reads the way admins think.
type Role string

const (
	RoleUnmanaged   Role = ""
	RoleMember      Role = "ROLE_MEMBER"
	RoleManager     Role = "ROLE_ASSISTANT_MANAGER" // "Manager" in the Chat UI
	RoleOwner       Role = "ROLE_MANAGER"           // "Owner" in the Chat UI
	RoleUnspecified Role = "MEMBERSHIP_ROLE_UNSPECIFIED"
)

// ParseRole accepts the Chat UI names (member, manager, owner; any case) and
// the API enum names verbatim. An empty string is RoleUnmanaged.
func ParseRole(s string) (Role, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return RoleUnmanaged, nil
	case "member":
		return RoleMember, nil
	case "manager":
		return RoleManager, nil
	case "owner":
		return RoleOwner, nil
	}
	switch Role(s) {
	case RoleMember, RoleManager, RoleOwner:
		return Role(s), nil
	}
	return "", fmt.Errorf("unknown role %q (want member, manager, owner, or ROLE_MEMBER, ROLE_ASSISTANT_MANAGER, ROLE_MANAGER)", s)
}

// UIName is the name admins see in Chat: member, manager, owner.
func (r Role) UIName() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleManager:
		return "manager"
	case RoleOwner:
		return "owner"
	case RoleUnmanaged, RoleUnspecified:
		return ""
	}
	return string(r)
}

// Known reports whether r is one of the API's roles as the syncer knows
// them (the chat/v1 discovery document's enum), or unmanaged.
func (r Role) Known() bool {
	switch r {
	case RoleUnmanaged, RoleMember, RoleManager, RoleOwner, RoleUnspecified:
		return true
	}
	return false
}

// Elevated reports whether the role exists only in named spaces and needs a
// patch after create (the API creates every membership as ROLE_MEMBER).
func (r Role) Elevated() bool { return r == RoleManager || r == RoleOwner }

// Rank orders roles by what they can do: owner, manager, member, unmanaged.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleManager:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}
