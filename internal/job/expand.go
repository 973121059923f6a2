package job

// Directory rules expand while the spaces are read: reading needs no rule,
// planning waits for them.

import (
	"context"
	"errors"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/rules"
)

// pendingRules is the sources' Directory rules being expanded while the
// spaces are read: reading needs no rule; planning waits for them.
type pendingRules struct {
	done    chan struct{}
	desired membership.Desired              // with every rule's people, once done
	learned map[string]membership.Principal // identities the rules taught
	// orgUsers are the learned addresses users.list named: the
	// organisation's users (a group's members may be outside it).
	orgUsers map[string]bool
	// warnings say what a rule left out that its owner may not expect.
	warnings []string
	// suspended are, by space, the suspended or archived people a rule
	// there names, with the rule: not removed unless remove_suspended.
	suspended map[string]map[membership.Principal]rules.Held
	err       error
	rules     int
}

// wait returns the expanded sources, or the rules' error.
func (p *pendingRules) wait(ctx context.Context) (membership.Desired, map[string]membership.Principal, error) {
	select {
	case <-p.done:
		return p.desired, p.learned, p.err
	case <-ctx.Done():
		return membership.Desired{}, nil, context.Cause(ctx)
	}
}

// startRules starts turning the sources' Directory rules into members.
// It fails at once, before any call, when the rules can't be expanded.
func (j *Job) startRules(ctx context.Context, desired membership.Desired) (*pendingRules, error) {
	p := &pendingRules{done: make(chan struct{}), desired: desired}
	for _, s := range desired.Spaces {
		p.rules += len(s.Rules)
	}
	if p.rules == 0 {
		close(p.done)
		return p, nil
	}
	if j.Rules == nil {
		return nil, &InputError{Err: errors.New("the sources have Directory rules, but the Directory is not available to this run")}
	}
	go func() {
		defer close(p.done)
		started := time.Now()
		x, err := j.Rules.Expand(ctx, desired)
		if err != nil {
			p.err = &RuleError{Err: err} // the caller logs each rule at fault
			return
		}
		p.desired, p.learned, p.orgUsers, p.warnings, p.suspended = x.Desired, x.Known, x.OrgUsers, x.Warnings, x.Suspended
		for _, w := range x.Warnings {
			j.Logger.Warn(w)
		}
		j.Logger.Info("rules expanded", "rules", p.rules, "directory_calls", x.Calls, "memberships", x.Desired.Count(), "seconds", time.Since(started).Seconds())
	}()
	return p, nil
}
