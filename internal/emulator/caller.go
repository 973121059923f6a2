package emulator

import "fmt"

// Who may change whom, as Google documents it, for Options.Caller.
//
// MembershipRole (Chat API reference): an owner (ROLE_MANAGER) "can change
// the role of other members in the space to member, manager, or owner"; a
// manager (ROLE_ASSISTANT_MANAGER) has "all the permissions of an owner
// except for the ability to: delete the space, make another space member an
// owner, change an owner's role"; a member (ROLE_MEMBER) has basic
// permissions, and "managers and owners can grant members additional
// permissions in a space, including: add or remove members" (the space's
// "Who can manage members and groups" setting: owners, managers and owners
// (the default here), or all members). The Help Center adds that a manager
// can't "remove space owners from the list of space owners"; the last owner
// can't leave (FAILED_PRECONDITION, checked elsewhere); anyone may leave.
// useAdminAccess=true lifts all of it ("update any space's membership in
// your Google Workspace organization"). Under app authentication
// (chat.app.memberships) the app creates and deletes, and patches "only in
// spaces the app created"; spaces.members.delete: "To delete memberships
// for space managers, the requester must be a space manager. If you're
// using app authentication the Chat app must be the space creator" (an
// owner or a manager, as for users).
//
// Not documented, so chosen here: removing an owner is changing an owner's
// role (owners only); members allowed to manage members add and remove
// plain members and groups only; a manager may step down to member; a
// caller who is not a joined member of the space may change nothing there.

const (
	manageOwners   = "owners"
	manageManagers = "managers" // owners and managers
	manageMembers  = "members"  // everyone
)

// callerApp is Options.Caller for app authentication.
const callerApp = "app"

func denied(format string, args ...any) *apiError {
	// Google's words for it; the reason follows for whoever reads the
	// emulator's answers.
	return errorf(403, "PERMISSION_DENIED", "The caller does not have permission. "+format, args...)
}

// refuse judges a write by Options.Caller; the caller holds s.mu. op is
// create, patch or delete; target is the membership patched or deleted (nil
// for create); role is the role a patch asks for.
func (s *Server) refuse(sp *space, admin bool, op string, target *member, role string) *apiError {
	switch {
	case s.opts.Caller == "":
		return nil
	case s.opts.Caller == callerApp:
		switch {
		case op == "delete" && target.kind == "GROUP":
			return appUnsupported("Removing a Google Group from a space")
		case op == "delete" && target.kind == "BOT":
			return appUnsupported("Removing a Chat app from a space")
		case op == "patch" && !sp.appCreated:
			return denied("With app authentication, roles can only be updated in spaces the app created; %s was not.", sp.name)
		case op == "delete" && !sp.appCreated && (target.role == roleManager || target.role == roleAssistantManager):
			return denied("With app authentication, a space manager's membership can only be deleted in spaces the app created; %s was not.", sp.name)
		}
		return nil
	case admin:
		return nil
	}
	me := sp.members[s.callerID]
	if me == nil || me.state != stateJoined {
		return denied("The calling user is not a member of %s.", sp.name)
	}
	if sp.spaceType != "SPACE" {
		return nil // no roles there: everyone is a member
	}
	self := target != nil && target.kind == "HUMAN" && target.id == s.callerID
	if op == "delete" && self {
		return nil // leaving
	}
	if op == "patch" {
		switch {
		case me.role == roleManager:
			return nil
		case self && me.role == roleAssistantManager && role == roleMember:
			return nil // stepping down
		case me.role == roleMember:
			return denied("A space member (ROLE_MEMBER) can't change roles.")
		case target.role == roleManager:
			return denied("Only a space owner can change an owner's role.")
		case role == roleManager:
			return denied("Only a space owner can make a member an owner.")
		case self:
			return denied("Only a space owner can change a manager's role.")
		}
		return nil
	}
	may := me.role == roleManager || me.role == roleAssistantManager && sp.manageMembers != manageOwners ||
		me.role == roleMember && sp.manageMembers == manageMembers
	if !may {
		return denied("Managing members and groups in %s is for %s; the caller is %s.", sp.name, whoManages(sp.manageMembers), me.role)
	}
	if op == "delete" {
		switch {
		case target.role == roleManager && me.role != roleManager:
			return denied("Only a space owner can remove an owner.")
		case target.role == roleAssistantManager && me.role == roleMember:
			return denied("A space member can't remove a manager.")
		}
	}
	return nil
}

// unreadable refuses a read of a space the calling user is not in:
// "Listing memberships with User authentication lists memberships in
// spaces that the authenticated user has access to" (spaces.members.list).
// Answered as a space that isn't (404); admin access reads any space. The
// app's reads are not judged (seeds seldom make it a member).
func (s *Server) unreadable(sp *space, admin bool) *apiError {
	if s.opts.Caller == "" || s.opts.Caller == callerApp || admin {
		return nil
	}
	if me := sp.members[s.callerID]; me != nil && me.state == stateJoined {
		return nil
	}
	return errorf(404, "NOT_FOUND", "Space %s not found or the caller is not a member.", sp.name)
}

// appUnsupported refuses what the reference lists under "App
// authentication is not supported for the following use cases"
// (spaces.members.create and spaces.members.delete). Google's status for
// it is not documented: a 403, as for any other refusal of the caller.
func appUnsupported(what string) *apiError {
	return denied("App authentication is not supported for: %s.", what)
}

func whoManages(setting string) string {
	switch setting {
	case manageOwners:
		return "owners"
	case manageMembers:
		return "all members"
	}
	return "managers and owners"
}

func seedManageMembers(v string) (string, error) {
	switch v {
	case "", manageManagers:
		return manageManagers, nil
	case manageOwners, manageMembers:
		return v, nil
	}
	return "", fmt.Errorf("manage_members %q: want owners, managers or members", v)
}
