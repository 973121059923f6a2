// Package diff computes the plan that turns current memberships into desired
// ones. Compute is a pure function: no I/O, no logging, no clock, and the same
// inputs always give the same plan in the same order. diff never calls the network.
package diff

import "github.com/syncer-dev/syncer/internal/membership"

// Action is what a change does.
type Action string

const (
	Create     Action = "create"
	UpdateRole Action = "update_role"
	Delete     Action = "delete"
)

// rank orders actions within a space; a member's create precedes its role patch.
func (a Action) rank() int {
	switch a {
	case Create:
		return 0
	case UpdateRole:
		return 1
	}
	return 2
}

// Status is a change's outcome after apply; empty while only planned.
type Status string

const (
	Applied     Status = "applied"
	AlreadyDone Status = "already_done"
	Failed      Status = "failed"
	Skipped     Status = "skipped"
)

// Change is one API write.
type Change struct {
	Space  string `json:"space"`
	Member string `json:"member"` // the email when known, else users/{id} or groups/{id}
	// Principal is the name the API is called with: for a create, the
	// address the source gave (people outside the organisation can only be
	// added by email); otherwise the canonical name when known.
	Principal membership.Principal `json:"principal"`
	// ID is the canonical users/{id} or groups/{id} the member was matched
	// to, when known.
	ID membership.Principal `json:"id,omitempty"`
	// Membership is spaces/X/members/Y for a member already in the space.
	Membership string          `json:"membership,omitempty"`
	Action     Action          `json:"action"`
	FromRole   membership.Role `json:"from_role,omitempty"`
	ToRole     membership.Role `json:"to_role,omitempty"`
	Source     string          `json:"source,omitempty"`
	// ResolvedBy says how an email was matched to an ID (list, cache,
	// directory, member-get); empty when it wasn't or needn't be.
	ResolvedBy string `json:"resolved_by,omitempty"`
	// Invited is set for a member who has not accepted their invitation yet.
	Invited bool `json:"invited,omitempty"`
	// Reason says why a member is removed: not in any source, or suspended.
	Reason string `json:"reason,omitempty"`
	// Successor, on a change that takes away a space's last owner, is the
	// member whose promotion to owner in this plan makes it possible: the
	// change is sent only after that promotion succeeded and only while the
	// successor's membership is joined (an invited member can't own a
	// space yet).
	Successor membership.Principal `json:"successor,omitempty"`
	Status    Status               `json:"status,omitempty"`
	Error     string               `json:"error,omitempty"`
	// Stopped: the change was not made, or its outcome is unknown, because
	// the run stopped (a signal, its deadline, a fatal error); rerun to finish.
	Stopped bool `json:"-"`
	// GoogleKept: Google refused this removal, the member being in the
	// space through a Google Group (Status Skipped). The removals state
	// remembers it.
	GoogleKept bool `json:"-"`
	// Takes, on a Google Group's removal, are the memberships of the
	// people to remove that Google takes with the group (its people the
	// Directory listed). A plan file keeps them: apply sends such a group
	// first (apply.phases), and one without them last.
	Takes []string `json:"takes,omitempty"`
}

// Policy says which kinds of change a plan may hold.
type Policy string

const (
	CreateOnly Policy = "create-only" // add missing members; never change roles
	Upsert     Policy = "upsert"      // add missing members and fix managed roles
	Sync       Policy = "sync"        // also remove members no source wants
)

// Reasons for a removal.
const (
	ReasonAbsent    = "not in any source"
	ReasonSuspended = "suspended in the Directory"
)

// SpaceSummary is one space's line in a report.
type SpaceSummary struct {
	Name           string               `json:"space"`
	Label          string               `json:"label,omitempty"`
	Type           membership.SpaceType `json:"type,omitempty"`
	Desired        int                  `json:"desired"`
	Current        int                  `json:"current"`
	Unchanged      int                  `json:"unchanged"`
	InvitedPending int                  `json:"invited_pending"`
	// Owners counts the space's joined owners, for the last-owner guard;
	// InvitedOwners those made owner who have not accepted yet (they can't
	// stand in for the last one).
	Owners        int `json:"owners"`
	InvitedOwners int `json:"invited_owners,omitempty"`
	// NewToSync marks a space under policy sync with no completed sync run
	// behind it (new to the sources, or switched to sync): its removals
	// need the admin's consent once, as a first run's do.
	NewToSync bool `json:"new_to_sync,omitempty"`
	// Policy is the space's policy when it overrides the plan's.
	Policy Policy `json:"policy,omitempty"`
	// Listed is false for a space whose memberships could not be read:
	// nothing is planned for it, and Error says why.
	Listed bool   `json:"listed"`
	Error  string `json:"error,omitempty"`
}

// Kept is a removal candidate left in place, and why.
type Kept struct {
	Space      string `json:"space"`
	Member     string `json:"member"`
	Membership string `json:"membership"`
	Why        string `json:"why"`
	// For a removal held by the grace period: how far along it is.
	Runs   int    `json:"runs,omitempty"`   // consecutive runs absent, this one included
	Of     int    `json:"of,omitempty"`     // runs before removal
	Since  string `json:"since,omitempty"`  // absent since (RFC 3339)
	Due    string `json:"due,omitempty"`    // removed on the first run after (RFC 3339)
	Reason string `json:"reason,omitempty"` // the removal's reason
	// Deferred marks a removal held back for now that a later run makes
	// without a source changing: the space's last owner, kept until a
	// successor has joined.
	Deferred bool `json:"-"`
}

// Summary counts a plan's changes, and after apply their outcomes.
type Summary struct {
	Create         int `json:"create"`
	UpdateRole     int `json:"update_role"`
	Delete         int `json:"delete"`
	RemovalPending int `json:"removal_pending"`
	Protected      int `json:"protected"`
	Unchanged      int `json:"unchanged"`
	InvitedPending int `json:"invited_pending"`
	Applied        int `json:"applied,omitempty"`
	AlreadyDone    int `json:"already_done,omitempty"`
	Failed         int `json:"failed,omitempty"`
	Skipped        int `json:"skipped,omitempty"`
}

// Plan is a value: it can be printed, saved, compared and applied later.
type Plan struct {
	Policy   Policy         `json:"policy"`
	Spaces   []SpaceSummary `json:"spaces"`
	Changes  []Change       `json:"changes"`
	Warnings []string       `json:"warnings"`
	// Incomplete says, first thing, what the plan could not see or do:
	// spaces not read, identities not resolved, a run stopped early. A
	// plan with any is never "all good".
	Incomplete []string `json:"incomplete"`
	// Blocked says which safety rail stopped the run before any write.
	Blocked []string `json:"blocked"`
	// Pending are removals the grace period holds; Protected are removal
	// candidates that are never removed (protect, the acting user, members
	// the syncer can't identify).
	Pending   []Kept  `json:"pending_removals"`
	Protected []Kept  `json:"protected"`
	Summary   Summary `json:"summary"`
	Applied   bool    `json:"applied"` // whether apply ran over it
}

// Complete reports whether the plan saw everything it needed.
func (p *Plan) Complete() bool { return len(p.Incomplete) == 0 }

// Recount recomputes the summary's change and outcome counts from Changes.
func (p *Plan) Recount() {
	s := Summary{Unchanged: p.Summary.Unchanged, InvitedPending: p.Summary.InvitedPending, RemovalPending: len(p.Pending), Protected: len(p.Protected)}
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			s.Create++
		case UpdateRole:
			s.UpdateRole++
		case Delete:
			s.Delete++
		}
		switch c.Status {
		case Applied:
			s.Applied++
		case AlreadyDone:
			s.AlreadyDone++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		}
	}
	p.Summary = s
}

// Empty reports whether the plan has nothing to do.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }
