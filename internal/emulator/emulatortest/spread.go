package emulatortest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Spread is how a world's addresses lie in the Directory's email order.
// The Directory pass queries by email prefix (email:ab*), so the spread
// decides how many bystanders a pass must read to find the named.
type Spread int

const (
	// SpreadStems (the zero value): p000001@, p000002@, ... all under one
	// prefix, each bystander a named address's stem and digits
	// (p000001-00@ sorts just before p000001@).
	SpreadStems Spread = iota
	// SpreadEven: named people and bystanders alike are first.last names
	// drawn evenly across the alphabet, each independently of the others.
	SpreadEven
	// SpreadClustered: every named address starts with "a"; bystanders
	// are drawn evenly across the alphabet (a 26th of them under "a").
	SpreadClustered
	// SpreadInterleaved: named addresses drawn evenly across the alphabet,
	// each bystander a named address's local part and digits (ann.lee7@
	// beside ann.lee@): no prefix query finds the named without paging
	// through the bystanders around them.
	SpreadInterleaved
)

func (s Spread) String() string {
	switch s {
	case SpreadStems:
		return "stems"
	case SpreadEven:
		return "even"
	case SpreadClustered:
		return "clustered"
	case SpreadInterleaved:
		return "interleaved"
	}
	return fmt.Sprintf("Spread(%d)", int(s))
}

// namer hands out a world's addresses: named(i) for the i-th named person
// (from 1, in order), then bystander(k, named) for the k-th bystander.
// Draws are seeded, so a world is the same every time it is built.
type namer struct {
	spread  Spread
	domains int
	rng     *rand.Rand
	taken   map[string]bool
	// the named addresses' local parts and domains, for interleaving
	locals, at []string
}

func (w World) names() *namer {
	return &namer{spread: w.Spread, domains: max(w.Domains, 1), rng: rand.New(rand.NewPCG(1, 2)), taken: map[string]bool{}}
}

// domain is the d-th of the world's domains.
func domain(d int) string {
	if d == 0 {
		return "example.com"
	}
	return fmt.Sprintf("example%d.com", d)
}

func (n *namer) named(i int) string {
	if n.spread == SpreadStems {
		return fmt.Sprintf("p%06d@%s", i, domain(i%n.domains))
	}
	local, at := n.fresh(n.spread == SpreadClustered)
	n.locals, n.at = append(n.locals, local), append(n.at, at)
	return local + "@" + at
}

func (n *namer) bystander(k, named int) string {
	switch {
	case n.spread == SpreadStems:
		return fmt.Sprintf("p%06d-%02d@%s", k%max(named, 1)+1, k/max(named, 1), domain(k%n.domains))
	case n.spread == SpreadInterleaved && len(n.locals) > 0:
		// Named local parts hold no digits, so these are all distinct.
		j := k % len(n.locals)
		return n.locals[j] + strconv.Itoa(k/len(n.locals)) + "@" + n.at[j]
	}
	local, at := n.fresh(false)
	return local + "@" + at
}

// fresh draws a first.last address no one has yet (starting with "a"
// when clustered), in one of the world's domains.
func (n *namer) fresh(clustered bool) (local, at string) {
	for {
		var b strings.Builder
		first, last := 3+n.rng.IntN(5), 3+n.rng.IntN(7)
		for j := 0; j < first+1+last; j++ {
			switch {
			case j == first:
				b.WriteByte('.')
			case j == 0 && clustered:
				b.WriteByte('a')
			default:
				b.WriteByte(byte('a' + n.rng.IntN(26)))
			}
		}
		local, at = b.String(), domain(n.rng.IntN(n.domains))
		if email := local + "@" + at; !n.taken[email] {
			n.taken[email] = true
			return local, at
		}
	}
}
