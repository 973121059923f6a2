package job

import (
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// actingMember finds the acting user's membership in a space's list: by
// email (acting, lower-cased), or by id, their users/{id} when known; nil
// when neither matches.
func actingMember(st *membership.SpaceState, acting string, id membership.Principal) *membership.Membership {
	if acting == "" || st == nil {
		return nil
	}
	for i, m := range st.Memberships {
		if m.Email == acting || id != "" && m.Principal == id {
			return &st.Memberships[i]
		}
	}
	return nil
}

// warnBeyondActingRole warns, before any call, of the changes Google
// refuses the acting user's role in the space, as the MembershipRole
// reference documents it for user authentication without admin access: a
// manager (ROLE_ASSISTANT_MANAGER) can't "make another space member an
// owner" nor "change an owner's role" (removing an owner included); a
// member (ROLE_MEMBER) changes no one's role. Who may add and remove people
// is a space setting the list doesn't show, so those go unjudged. The
// changes are still sent (the space may have changed since it was listed),
// and Google's refusal fails them; the warning says why before it comes.
// mine is the acting user's membership (actingMember), acting their email.
func warnBeyondActingRole(sp *diff.SpacePlan, mine *membership.Membership, acting string) {
	if mine == nil || mine.Role == membership.RoleOwner || len(sp.Changes) == 0 {
		return
	}
	id := mine.Principal
	var refused []string
	for _, c := range sp.Changes {
		self := strings.EqualFold(c.Member, acting) || id != "" && (c.ID == id || c.Principal == id)
		switch {
		case mine.Role == membership.RoleManager && c.Action == diff.UpdateRole && self && c.ToRole == membership.RoleMember:
			// stepping down is theirs to do
		case mine.Role == membership.RoleManager && c.Action == diff.UpdateRole && (c.ToRole == membership.RoleOwner || c.FromRole == membership.RoleOwner),
			mine.Role == membership.RoleManager && c.Action == diff.Delete && c.FromRole == membership.RoleOwner,
			mine.Role == membership.RoleMember && c.Action == diff.UpdateRole:
			refused = append(refused, describe(c))
		}
	}
	if len(refused) == 0 {
		return
	}
	why := "only an owner makes owners or changes or removes an owner"
	if mine.Role == membership.RoleMember {
		why = "a member changes no one's role"
	}
	sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s: the acting user %s is a %s (%s) there, and %s: Google will refuse %d of its changes (%s); make %s an owner of the space, or use admin access",
		sp.Summary.Name, acting, mine.Role.UIName(), mine.Role, why, len(refused), strings.Join(refused, ", "), acting))
}

func describe(c diff.Change) string {
	if c.Action == diff.Delete {
		return "removing " + c.Member
	}
	return fmt.Sprintf("%s: %s → %s", c.Member, c.FromRole.UIName(), c.ToRole.UIName())
}
