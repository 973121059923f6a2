package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/membership"
)

// answersAs answers users.get for key as the Directory answers as ("":
// the user asked about, without an address).
type answersAs struct {
	Directory
	key, as string
}

func (d answersAs) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	if key != d.key {
		return d.Directory.User(ctx, key)
	}
	if d.as != "" {
		return d.Directory.User(ctx, d.as)
	}
	u, err := d.Directory.User(ctx, key)
	u.PrimaryEmail, u.Aliases = "", nil
	return u, err
}

// Export writes the email Emails gives for a member listed by ID, and a
// source that names someone else by it adds them and removes the member.
// An answer about another user, or naming no address, gives none.
func TestEmailsTakeNoAnswerAboutAnotherUser(t *testing.T) {
	_, dir := emulatedDirectory(t, &emulator.Seed{Users: []emulator.SeedUser{{ID: "777", Email: "pat@example.com"}, {ID: "888", Email: "olaf@example.com"}, {ID: "999", Email: "vic@example.com"}}})
	r := &Resolver{Directory: answersAs{Directory: dir, key: "777", as: "888"}, DirectoryThrottle: freeThrottle()}
	r.Directory = answersAs{Directory: r.Directory, key: "999"}
	got := r.Emails(context.Background(), []membership.Principal{"users/777", "users/999"})
	for p, e := range got {
		t.Errorf("Emails gave %s for %s, from an answer not about them", e, p)
	}
}
