package identity

import (
	"slices"
	"strings"
)

// Partitioning of the pass: at most passPartition unknown addresses (five
// pages in a row when the Directory holds about the people the sources
// name) per prefix query, and at most maxPartitions queries. Splitting
// costs calls (prefixes split by character, unevenly), so only big passes
// are split.
const (
	passPartition = 2500
	maxPartitions = 64
)

// pagesPerQuery is how many pages in a row one query of the pass may
// take before splitting it is worth a call or two more.
const pagesPerQuery = 8

// passLimit is how many wanted addresses one query of the pass should
// cover: enough queries that each pages about pagesPerQuery pages of a
// Directory of size users, at most inFlight of them, none covering more
// than passPartition.
func passLimit(unknown, size, inFlight int) int {
	pages := (size + passPageSize - 1) / passPageSize
	parts := min(maxPartitions, max(1, inFlight), max(1, (pages+pagesPerQuery-1)/pagesPerQuery))
	return min(passPartition, max(1, (unknown+parts-1)/parts))
}

// Prefixes splits emails into email prefixes, each covering at most limit
// of them where it can, at most max prefixes in all: a group too big is
// split by its next character. Only letters and digits extend a prefix, so
// every prefix is safe in a query. "" (everyone) when no split is needed.
// Groups are runs of the sorted addresses, so a million cost no copies.
func Prefixes(emails []string, limit, max int) []string {
	if !slices.IsSorted(emails) {
		emails = slices.Clone(emails)
		slices.Sort(emails)
	}
	type group struct {
		prefix string
		emails []string
	}
	groups := []group{{"", emails}}
	for len(groups) < max {
		// The biggest group over the limit that can be split (ties: the first prefix).
		big := -1
		for i, g := range groups {
			if len(g.emails) <= limit || !splittable(g.prefix, g.emails) {
				continue
			}
			if big < 0 || len(g.emails) > len(groups[big].emails) || len(g.emails) == len(groups[big].emails) && g.prefix < groups[big].prefix {
				big = i
			}
		}
		if big < 0 {
			break
		}
		g, n := groups[big], len(groups[big].prefix)
		var sub []group
		for i := 0; i < len(g.emails); {
			j := i + 1
			for j < len(g.emails) && g.emails[j][n] == g.emails[i][n] {
				j++
			}
			sub = append(sub, group{g.emails[i][:n+1], g.emails[i:j]})
			i = j
		}
		if len(groups)-1+len(sub) > max {
			break
		}
		groups = slices.Concat(groups[:big], sub, groups[big+1:])
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, g.prefix)
	}
	slices.Sort(out)
	return out
}

// splittable: every member is longer than the prefix and continues with a
// letter or digit.
func splittable(prefix string, emails []string) bool {
	for _, e := range emails {
		if len(e) <= len(prefix) {
			return false
		}
		c := e[len(prefix)]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// under is the sorted addresses that start with prefix.
func under(sorted []string, prefix string) []string {
	i, _ := slices.BinarySearch(sorted, prefix)
	j := i
	for j < len(sorted) && strings.HasPrefix(sorted[j], prefix) {
		j++
	}
	return sorted[i:j]
}
