// Package report renders a plan, before or after apply, for people (text,
// and an HTML page), for reviews (Markdown) and for machines (JSON). It
// only formats.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/printable"
)

// Deferred is the format that writes nothing: the caller renders the
// report itself once the run is over, with what only it knows (the HTML
// page shows the run's duration, result and calls).
const Deferred = "deferred"

// Write renders plan in format: text, markdown, json or html (the page
// without the run's own figures: see HTML).
func Write(w io.Writer, format string, plan diff.Plan) error {
	switch format {
	case "text", "":
		return Text(w, plan)
	case "markdown", "md":
		return Markdown(w, plan)
	case "json":
		return JSON(w, plan)
	case "html":
		return HTML(w, Page{Plan: plan})
	case Deferred:
		return nil
	}
	return fmt.Errorf("unknown report format %q (want text, markdown, json or html)", format)
}

// FormatVersion is bumped when a JSON field changes meaning or disappears.
const FormatVersion = "1"

type jsonReport struct {
	FormatVersion string              `json:"format_version"`
	Policy        diff.Policy         `json:"policy"`
	Applied       bool                `json:"applied"`
	Complete      bool                `json:"complete"`
	Incomplete    []string            `json:"incomplete"`
	Blocked       []string            `json:"blocked"`
	Summary       jsonSummary         `json:"summary"`
	Spaces        []diff.SpaceSummary `json:"spaces"`
	Changes       []jsonChange        `json:"changes"`
	Pending       []diff.Kept         `json:"pending_removals"`
	Protected     []diff.Kept         `json:"protected"`
	Warnings      []string            `json:"warnings"`
}

// jsonChange always carries the documented keys (empty strings included),
// and status and error exactly when apply ran.
type jsonChange struct {
	Space      string  `json:"space"`
	Member     string  `json:"member"`
	Action     string  `json:"action"`
	FromRole   string  `json:"from_role"`
	ToRole     string  `json:"to_role"`
	Source     string  `json:"source"`
	Principal  string  `json:"principal"`
	Membership string  `json:"membership,omitempty"`
	ResolvedBy string  `json:"resolved_by,omitempty"`
	Invited    bool    `json:"invited,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Successor  string  `json:"successor,omitempty"`
	Status     *string `json:"status,omitempty"`
	Error      *string `json:"error,omitempty"`
}

func newJSONChange(c diff.Change, applied bool) jsonChange {
	jc := jsonChange{Space: c.Space, Member: c.Member, Action: string(c.Action), FromRole: string(c.FromRole), ToRole: string(c.ToRole),
		Source: c.Source, Principal: string(c.Principal), Membership: c.Membership, ResolvedBy: c.ResolvedBy, Invited: c.Invited, Reason: c.Reason,
		Successor: string(c.Successor)}
	if applied {
		status, errText := string(c.Status), c.Error
		jc.Status, jc.Error = &status, &errText
	}
	return jc
}

// jsonSummary carries outcome counts exactly when apply ran, zeros included,
// so a scheduler can always read "failed" after an apply.
type jsonSummary struct {
	Create         int  `json:"create"`
	UpdateRole     int  `json:"update_role"`
	Delete         int  `json:"delete"`
	RemovalPending int  `json:"removal_pending"`
	Protected      int  `json:"protected"`
	Unchanged      int  `json:"unchanged"`
	InvitedPending int  `json:"invited_pending"`
	Applied        *int `json:"applied,omitempty"`
	AlreadyDone    *int `json:"already_done,omitempty"`
	Failed         *int `json:"failed,omitempty"`
	Skipped        *int `json:"skipped,omitempty"`
}

func newJSONSummary(plan diff.Plan) jsonSummary {
	s := plan.Summary
	js := jsonSummary{Create: s.Create, UpdateRole: s.UpdateRole, Delete: s.Delete, RemovalPending: s.RemovalPending, Protected: s.Protected,
		Unchanged: s.Unchanged, InvitedPending: s.InvitedPending}
	if plan.Applied {
		js.Applied, js.AlreadyDone, js.Failed, js.Skipped = &s.Applied, &s.AlreadyDone, &s.Failed, &s.Skipped
	}
	return js
}

// JSON writes the machine-readable report.
func JSON(w io.Writer, plan diff.Plan) error {
	r := jsonReport{FormatVersion: FormatVersion, Policy: plan.Policy, Applied: plan.Applied, Complete: plan.Complete(), Incomplete: orEmpty(plan.Incomplete),
		Blocked: orEmpty(plan.Blocked), Summary: newJSONSummary(plan), Spaces: plan.Spaces, Changes: make([]jsonChange, 0, len(plan.Changes)),
		Pending: plan.Pending, Protected: plan.Protected, Warnings: plan.Warnings}
	if r.Pending == nil {
		r.Pending = []diff.Kept{}
	}
	if r.Protected == nil {
		r.Protected = []diff.Kept{}
	}
	for _, c := range plan.Changes {
		r.Changes = append(r.Changes, newJSONChange(c, plan.Applied))
	}
	if r.Spaces == nil {
		r.Spaces = []diff.SpaceSummary{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}

	enc := json.NewEncoder(jsonWriter{w})
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// jsonWriter writes encoded JSON with what a terminal acts on escaped
// (printable.JSON); an Encoder writes each document in one call.
type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(b []byte) (int, error) {
	if _, err := j.w.Write(printable.JSON(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

var symbols = map[diff.Action]string{diff.Create: "+", diff.UpdateRole: "~", diff.Delete: "-"}

// describe is a change's one-line body: who, the role move for patches,
// why for removals, and the promotion a last owner's departure waits for
// (space is the change's space's changes, where that successor is).
func describe(c diff.Change, space []diff.Change) string {
	after := ""
	if c.Successor != "" {
		after = "after " + successorName(c.Successor, space) + " is owner"
	}
	switch {
	case c.Action == diff.UpdateRole && after != "":
		return fmt.Sprintf("%s: %s → %s (%s)", c.Member, roleName(c.FromRole), roleName(c.ToRole), after)
	case c.Action == diff.UpdateRole:
		return fmt.Sprintf("%s: %s → %s", c.Member, roleName(c.FromRole), roleName(c.ToRole))
	case c.Action == diff.Delete && c.Reason != "" && after != "":
		return fmt.Sprintf("%s (%s; %s)", c.Member, c.Reason, after)
	case c.Action == diff.Delete && c.Reason != "":
		return fmt.Sprintf("%s (%s)", c.Member, c.Reason)
	case after != "":
		return fmt.Sprintf("%s (%s)", c.Member, after)
	}
	return c.Member
}

// successorName is how the plan shows a successor: the member of its
// promotion (an email) rather than the name the API is called with.
func successorName(p membership.Principal, space []diff.Change) string {
	for _, c := range space {
		if c.Principal == p && c.Action == diff.UpdateRole && c.ToRole == membership.RoleOwner {
			return c.Member
		}
	}
	return p.Display()
}

// newToSync names the spaces new to policy sync, at most a few.
func newToSync(p diff.Plan) (int, string) {
	var names []string
	for _, s := range p.Spaces {
		if s.NewToSync {
			names = append(names, s.Name)
		}
	}
	const show = 10
	list := strings.Join(names[:min(len(names), show)], ", ")
	if len(names) > show {
		list += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return len(names), list
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func roleName(r interface{ UIName() string }) string {
	if n := r.UIName(); n != "" {
		return n
	}
	return "unspecified"
}

func outcome(c diff.Change) string {
	switch {
	case c.Status == "":
		return ""
	case c.Error != "":
		return string(c.Status) + ": " + c.Error
	}
	return string(c.Status)
}

// bySpace splits the (space-sorted) changes into per-space runs.
func bySpace(changes []diff.Change) map[string][]diff.Change {
	out := make(map[string][]diff.Change)
	for _, c := range changes {
		out[c.Space] = append(out[c.Space], c)
	}
	return out
}

func spaceTitle(s diff.SpaceSummary) string {
	if s.Label != "" {
		return s.Name + " (" + s.Label + ")"
	}
	return s.Name
}

func planLine(p diff.Plan) string {
	s := p.Summary
	line := fmt.Sprintf("Plan: %d to add, %d to change, %d to remove.", s.Create, s.UpdateRole, s.Delete)
	if s.RemovalPending > 0 || s.Protected > 0 {
		line = strings.TrimSuffix(line, ".") + fmt.Sprintf(", %d removals pending, %d protected.", s.RemovalPending, s.Protected)
	}
	switch {
	case len(p.Blocked) > 0:
		line += " BLOCKED: nothing was changed (see above)"
	case !p.Complete():
		line += " (incomplete: see above)"
	}
	return line
}

func orUnknown(s string) string {
	if s == "" {
		return "reason unknown"
	}
	return s
}

func outcomeLine(s diff.Summary) string {
	return fmt.Sprintf("Applied: %d applied, %d already done, %d failed, %d skipped.", s.Applied, s.AlreadyDone, s.Failed, s.Skipped)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
