package job

import (
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/source"
)

// Check refuses, before any call, desired memberships the configured
// access can't manage, each with its file and line:
//   - Chat app authentication can't manage Google Group memberships or add
//     the calling app (both take user authentication);
//   - admin access can't add apps, and can't even read the app's membership.
//
// (People outside identity.domains can't be added under either, but may
// already be members: their creates are dropped from the plan instead.)
//
// It is pure: validate runs it offline, and every run runs it first.
func Check(d membership.Desired, a Access) error {
	appAuth, admin := a.AppAuth, a.Admin
	var errs source.Errors
	add := func(m membership.DesiredMember, format string, args ...any) {
		errs = append(errs, &source.Error{At: m.Source.Location(), Msg: fmt.Sprintf(format, args...)})
	}
	for _, s := range d.Spaces {
		for _, r := range s.Rules {
			if a.AppAuth || a.NoDirectory {
				why := "identity.directory is false"
				if a.AppAuth {
					why = "Chat app authentication can't read the Directory"
				}
				errs = append(errs, &source.Error{At: r.Source, Msg: fmt.Sprintf("%s in %s: a Directory rule, but %s", r.Describe(), s.Name, why)})
			}
		}
		for _, m := range s.Members {
			switch {
			case appAuth && m.Principal.IsGroup():
				add(m, "%s in %s: Chat app authentication can't manage Google Group memberships; use a user auth mode (a subject for domain-wide delegation)", m.Principal, s.Name)
			case appAuth && m.Principal == membership.App:
				add(m, "app in %s: adding the Chat app to a space takes user authentication; use a user auth mode", s.Name)
			case admin && m.Principal == membership.App:
				add(m, "app in %s: admin access (api.use_admin_access) can't add apps or read their memberships; remove it from the sources or turn admin access off", s.Name)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Access is how the syncer reaches the API, as far as sources care.
type Access struct {
	AppAuth bool     // Chat app authentication
	Admin   bool     // api.use_admin_access
	Domains []string // identity.domains
	// NoDirectory: the Directory can't be asked (identity.directory off, or
	// app authentication), so rules can't be expanded.
	NoDirectory bool
}

// AccessOf reads Access from a config.
func AccessOf(cfg *config.Config, appAuth bool) Access {
	return Access{AppAuth: appAuth, Admin: cfg.API.UseAdminAccess, Domains: cfg.Identity.Domains,
		NoDirectory: appAuth || !cfg.Identity.Directory}
}

func domainOf(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}

// outsideDomains says, when identity.domains is set and the access can't
// add outsiders, which addresses are outside the organisation.
func (a Access) outsideDomains() func(email string) bool {
	if !a.AppAuth && !a.Admin || len(a.Domains) == 0 {
		return nil
	}
	domains := map[string]bool{}
	for _, d := range a.Domains {
		domains[strings.ToLower(d)] = true
	}
	return func(email string) bool { return email != "" && !domains[domainOf(email)] }
}
