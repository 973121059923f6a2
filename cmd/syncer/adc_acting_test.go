package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/membership"
)

// auth.mode adc without a subject acts as whoever the default credentials
// belong to (gcloud's application-default login: a person), whom the
// syncer can't name; policy sync never removes the user it acts as, so it
// would plan that person's removal like anyone's. Refused before any call
// wherever sync applies; upsert, which removes nobody, still runs.
func TestPolicySyncRefusesAnActingUserItCantName(t *testing.T) {
	const refusal = "can't tell who that is"
	sync := membership.Desired{Spaces: []membership.DesiredSpace{{Name: "spaces/S", Policy: config.PolicySync}}}
	upsert := membership.Desired{Spaces: []membership.DesiredSpace{{Name: "spaces/S"}}}
	tests := []struct {
		name, auth, policy string
		desired            membership.Desired
		refused            bool
	}{
		{"adc, policy sync", "{mode: adc}", "sync", upsert, true},
		{"adc, one space under sync", "{mode: adc}", "upsert", sync, true},
		{"adc, upsert", "{mode: adc}", "upsert", upsert, false},
		{"adc with impersonation and a subject", "{mode: adc, impersonate_service_account: s@p.iam.gserviceaccount.com, subject: a@example.com}", "sync", upsert, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(filepath.Join(t.TempDir(), "c.yaml"),
				[]byte("sources: [{path: a.csv}]\npolicy: "+tt.policy+"\nauth: "+tt.auth+"\nstate: {location: \"gs://b-1/p\"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = checkOffline(cfg, tt.desired, true)
			if got := err != nil && strings.Contains(err.Error(), refusal); got != tt.refused {
				t.Errorf("checkOffline = %v; want refused %v", err, tt.refused)
			}
		})
	}
}
