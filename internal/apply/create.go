package apply

// A create and what its answer says: whether it names the member planned,
// and, where it doesn't say (an empty answer, a 409 without a status, an
// answer by another ID), what the space itself shows.

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// getMember reads c's member's membership in c's space (members.get by
// the change's principal: an address or users/{id}).
func (e *Engine) getMember(ctx context.Context, c *diff.Change) (membership.Membership, error) {
	var m membership.Membership
	err := e.Throttle.Read(ctx, "get", c.Space, func(ctx context.Context) (err error) {
		m, err = e.API.Get(ctx, c.Space, c.Principal.ID())
		return err
	})
	return m, err
}

// canonical is whom a change's answer should name: the member's
// users/{id} or groups/{id} when known, else "" (an address nothing
// resolved, or the calling app).
func canonical(c diff.Change) membership.Principal {
	switch {
	case c.Principal == membership.App:
		return "" // Google names the app by a numeric ID of its own
	case c.ID != "":
		return c.ID
	case c.Principal.Email() != "":
		return ""
	}
	return c.Principal
}

// names tells whether an answer's membership is the change's member
// (known: whether that can be told from the answer alone). An answer
// naming the address asked, or carrying it as the member's email, is the
// member; for a create by canonical name (users/{id}, groups/{id}), so is
// one naming that ID and no other. A create by address answered with
// another ID than the plan's can't be told from the answer: the plan's ID
// may come from an identity cache out of date (confirm tells).
func names(c diff.Change, m membership.Membership) (same, known bool) {
	want, got, asked := canonical(c), m.Principal, c.Principal.Email()
	switch {
	case got == "" || m.Name == "":
		return false, false
	case asked != "" && (got.Email() == asked || m.Email == asked):
		return true, true
	case got.Email() != "" || want == "":
		return false, false // another address (an alias answered by the primary one?), or nothing to compare
	case asked != "" && got != want:
		return false, false
	}
	return got == want, true
}

// made reads the membership a create answered without one made, if any.
func (e *Engine) made(ctx context.Context, c *diff.Change) (membership.Membership, error) {
	got, err := e.getMember(ctx, c)
	switch {
	case err == nil && got.Name != "":
		return got, nil
	case err == nil, errors.Is(err, chatapi.ErrNotFound):
		return got, fmt.Errorf("Google answered the create without a membership, and the space shows none for %s: whether %s was added is unknown (an invitation this access can't see, perhaps; the next run finds out)", c.Member, c.Member)
	}
	return got, fmt.Errorf("Google answered the create without a membership, and the space could not be asked whom it made (%v): whether %s was added is unknown (the next run finds out)", err, c.Member)
}

// confirm asks the space whom a create by address made, when its answer
// named another ID than the plan's: the same membership, the plan's ID was
// out of date; another, Google answered for someone else. Unknown when
// the space says it has no such member (an invitation app authentication
// can't see); an error when it could not be asked.
func (e *Engine) confirm(ctx context.Context, c *diff.Change, m membership.Membership) (same, known bool, err error) {
	got, err := e.getMember(ctx, c)
	switch {
	case errors.Is(err, chatapi.ErrNotFound):
		return false, false, nil
	case err != nil:
		return false, false, err
	case got.Name == "":
		return false, false, nil
	}
	return got.Name == m.Name || got.Principal == m.Principal, true, nil
}

func (e *Engine) create(ctx context.Context, c *diff.Change) (*membership.Membership, error) {
	var m membership.Membership
	err := e.Throttle.Write(ctx, "create", c.Space, func(ctx context.Context) (err error) {
		m, err = e.API.Create(ctx, c.Space, c.Principal)
		return err
	})
	if err == nil && m.Name == "" {
		// Google's answer names the membership it made; one without (a
		// proxy's empty 200) tells nothing: the space is asked.
		if m, err = e.made(ctx, c); err != nil {
			return nil, err
		}
	}
	switch {
	case err == nil:
		c.Status = diff.Applied
		same, known := names(*c, m)
		if !known && c.Principal.Email() != "" && canonical(*c) != "" && m.Principal != "" && m.Principal.Email() == "" {
			var err error
			if same, known, err = e.confirm(ctx, c, m); err != nil {
				// Someone else's membership, perhaps: what depends on
				// this create (a role, an owner's removal) is not sent.
				return nil, fmt.Errorf("Google answered the create with the membership of %s, not of %s as planned, and whom it made could not be read (%v): whether %s was added is unknown (the next run finds out)",
					m.Principal.Display(), canonical(*c).Display(), err, c.Member)
			}
		}
		if known && !same {
			return nil, fmt.Errorf("Google answered the create with the membership of %s, not of %s: whether %s was added is unknown (the next run finds out)",
				m.Principal.Display(), canonical(*c).Display(), c.Member)
		}
		// Where whom it names can't be told (a create by address, answered
		// without it), the answer is taken as it comes: a get by address
		// can't see an invitation under app authentication, and the
		// answer is what tells a role patch the member is invited.
		c.Membership = m.Name
		return &m, nil
	case errors.Is(err, chatapi.ErrAlreadyExists) && !stated(err):
		// A 409 that doesn't say which (a proxy's page, a body cut short):
		// ALREADY_EXISTS or ABORTED, that is made or not. The space is asked.
		return nil, e.existed(ctx, c)
	case errors.Is(err, chatapi.ErrAlreadyExists):
		// Joined or invited already, or our own earlier attempt whose answer was lost.
		c.Status = diff.AlreadyDone
		return nil, nil
	}
	return nil, err
}

// stated tells whether a refusal carried Google's status (ALREADY_EXISTS,
// ABORTED...): every error Google writes does.
func stated(err error) bool {
	var ae *chatapi.Error
	return errors.As(err, &ae) && ae.Status != ""
}

// existed asks the space whether a create answered 409 without a status
// found its member there: shown, already done; not shown or not asked,
// failed, the outcome unknown.
func (e *Engine) existed(ctx context.Context, c *diff.Change) error {
	got, err := e.getMember(ctx, c)
	switch {
	case err == nil && got.Name != "":
		c.Status, c.Membership = diff.AlreadyDone, got.Name
		return nil
	case err == nil, errors.Is(err, chatapi.ErrNotFound):
		return fmt.Errorf("Google answered the create 409 without saying why (already a member, or a conflict that made nothing), and the space shows no %s: whether they were added is unknown (the next run finds out)", c.Member)
	}
	return fmt.Errorf("Google answered the create 409 without saying why (already a member, or a conflict that made nothing), and the space could not be asked (%v): whether %s was added is unknown (the next run finds out)", err, c.Member)
}
