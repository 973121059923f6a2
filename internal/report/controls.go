package report

import (
	"slices"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/printable"
)

// Printable is s as a terminal can show it and do nothing else with
// (printable.Text): addresses, labels, Google's messages and source values
// are typed by other people.
func Printable(s string) string { return printable.Text(s) }

// printablePage is p with every value from outside the run Printable, for
// the page: html/template keeps markup text, but a bidi override it leaves
// in a cell shows the rest of the cell reversed, another address than the
// one a change acts on.
func printablePage(p Page) Page {
	plan := p.Plan
	plan.Blocked, plan.Incomplete, plan.Warnings = printableAll(plan.Blocked), printableAll(plan.Incomplete), printableAll(plan.Warnings)
	plan.Spaces = slices.Clone(plan.Spaces)
	for i := range plan.Spaces {
		s := &plan.Spaces[i]
		s.Label, s.Error = Printable(s.Label), Printable(s.Error)
	}
	plan.Changes = slices.Clone(plan.Changes)
	for i := range plan.Changes {
		c := &plan.Changes[i]
		c.Member, c.Source, c.Reason, c.Error = Printable(c.Member), Printable(c.Source), Printable(c.Reason), Printable(c.Error)
	}
	plan.Pending, plan.Protected = printableKept(plan.Pending), printableKept(plan.Protected)
	p.Plan = plan
	if p.Run != nil {
		run := *p.Run
		run.Why = Printable(run.Why)
		if run.PlanFile != nil {
			pf := *run.PlanFile
			pf.Path, pf.Moved = Printable(pf.Path), printableAll(pf.Moved)
			run.PlanFile = &pf
		}
		p.Run = &run
	}
	return p
}

func printableAll(lines []string) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = Printable(l)
	}
	return out
}

func printableKept(ks []diff.Kept) []diff.Kept {
	ks = slices.Clone(ks)
	for i := range ks {
		ks[i].Member, ks[i].Why = Printable(ks[i].Member), Printable(ks[i].Why)
	}
	return ks
}
