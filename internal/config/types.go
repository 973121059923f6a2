package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/source"
)

// DefaultEndpoint is Google's; anything else is treated as an emulator.
const DefaultEndpoint = "https://chat.googleapis.com/"

// Config is the whole configuration file.
type Config struct {
	Sources  []source.Spec `yaml:"sources"`
	Policy   string        `yaml:"policy"`
	API      API           `yaml:"api"`
	Auth     Auth          `yaml:"auth"`
	Limits   Limits        `yaml:"limits"`
	Identity Identity      `yaml:"identity"`
	Schedule string        `yaml:"schedule"`
	// RunOnStart makes serve run once at start-up, not only on schedule.
	RunOnStart bool   `yaml:"run_on_start"`
	Report     Report `yaml:"report"`
	// Protect lists who policy sync never removes: emails, Directory IDs,
	// groups/{id}, and domain patterns such as *@partner.com.
	Protect []string `yaml:"protect"`
	// RemoveSuspended removes, under policy sync, members the Directory
	// reports suspended even where a source still lists them.
	RemoveSuspended bool   `yaml:"remove_suspended"`
	Safety          Safety `yaml:"safety"`
	State           State  `yaml:"state"`
	Plan            Plan   `yaml:"plan"`

	// Path is the file the config was read from.
	Path string `yaml:"-"`
	root yaml.Node
}

// At is where a key path (e.g. "auth", "credentials_file") is written in
// the config file; the line is 0 when the key is absent (a default).
func (c *Config) At(keys ...string) membership.Location {
	return membership.Location{File: c.Path, Line: lineOf(&c.root, keys...)}
}

// API says where and how to call Google.
type API struct {
	Endpoint       string `yaml:"endpoint"`
	UseAdminAccess bool   `yaml:"use_admin_access"`
}

// Auth says who the syncer acts as.
type Auth struct {
	Mode                      string `yaml:"mode"`
	CredentialsFile           string `yaml:"credentials_file"`
	Subject                   string `yaml:"subject"`
	ImpersonateServiceAccount string `yaml:"impersonate_service_account"`
	TokenFile                 string `yaml:"token_file"`
}

// Identity says how emails are matched to Directory IDs.
type Identity struct {
	// Directory enables Directory API lookups (needs the
	// admin.directory.user.readonly scope); off under app authentication.
	Directory bool `yaml:"directory"`
	// CacheFile keeps resolutions between runs; empty for none.
	CacheFile string `yaml:"cache_file"`
	// CacheTTL is how long a cached resolution is trusted.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// Domains are the organisation's own email domains (primary, secondary
	// and alias domains). Optional; when set, addresses outside them are
	// known to be external before any call.
	Domains []string `yaml:"domains"`
}

// Limits bound what a run may ask of the API. Defaults are Google's quotas.
type Limits struct {
	ProjectWritesPerMinute int `yaml:"project_writes_per_minute"`
	ProjectReadsPerMinute  int `yaml:"project_reads_per_minute"`
	SpaceReadsPerSecond    int `yaml:"space_reads_per_second"`
	SpaceWritesPerSecond   int `yaml:"space_writes_per_second"`
	// ProjectSpaceReadsPerMinute is Google's separate "space reads" quota,
	// which spaces.get counts against.
	ProjectSpaceReadsPerMinute int `yaml:"project_space_reads_per_minute"`
	// DirectoryPerMinute is the Admin SDK Directory quota (per user per project).
	DirectoryPerMinute int `yaml:"directory_per_minute"`
	// Headroom is the share of each quota the syncer uses in any window.
	Headroom float64 `yaml:"headroom"`
	// QuotaWindow is what Google counts the per-minute quotas over: a
	// minute; against an emulator whose quotas run N times faster, a
	// minute ÷ N.
	QuotaWindow time.Duration `yaml:"quota_window"`
	Concurrency int           `yaml:"concurrency"`
	MaxAttempts int           `yaml:"max_attempts"`
	// CallTimeout bounds every single call (token requests included);
	// RunTimeout bounds the whole run.
	CallTimeout time.Duration `yaml:"call_timeout"`
	RunTimeout  time.Duration `yaml:"run_timeout"`
	// HeldMemberships bounds the memberships read and not yet planned
	// (spaces waiting for the Directory); 0 sizes it from GOMEMLIMIT.
	HeldMemberships int `yaml:"held_memberships"`
}

// CallsInFlight is limits.concurrency, or when that is 0, enough calls in
// flight to use the larger of the read and write quotas at 250 ms a call
// (Google's usual latency is well under that), between 8 and 256. At
// Google's default quotas that is 13.
func (l Limits) CallsInFlight() int {
	if l.Concurrency > 0 {
		return l.Concurrency
	}
	perSecond := float64(max(l.ProjectWritesPerMinute, l.ProjectReadsPerMinute)) / 60
	return min(256, max(8, int(math.Ceil(perSecond*0.25))))
}

// Safety are the rails removals must pass, checked on the whole plan
// before the first write.
type Safety struct {
	// MaxRemovals bounds removals in a run; MaxRemovalPercent bounds them in
	// a space, as a share of its current members. 0 means no removals;
	// "unlimited" must be spelled out.
	MaxRemovals       Limit `yaml:"max_removals"`
	MaxRemovalPercent Limit `yaml:"max_removal_percent"`
	// MaxSourceShrinkPercent is how far a source's desired total may drop
	// from the last successful run's before the run is blocked.
	MaxSourceShrinkPercent Limit `yaml:"max_source_shrink_percent"`
	// RemovalGrace keeps a member absent from the sources in place until
	// absent for that many consecutive runs, or that long.
	RemovalGrace Grace `yaml:"removal_grace"`
}

// State says where the syncer keeps what it carries from run to run.
type State struct {
	// Location is where a run keeps what it carries to the next (the
	// removals' totals and grace counters, the identity cache) and, in
	// Cloud Storage, its lock: a local folder (relative to the config
	// file) or gs://BUCKET/PREFIX.
	Location string `yaml:"location"`
}

// InCloudStorage reports whether state lives in a gs:// location.
func (s State) InCloudStorage() bool { return strings.HasPrefix(s.Location, "gs://") }

// Plan is about saved plans (plan --out, apply --plan).
type Plan struct {
	// MaxAge is how old a saved plan may be when applied.
	MaxAge time.Duration `yaml:"max_age"`
}

// Limit is a count, or no limit when spelled out as "unlimited".
type Limit struct {
	N         int
	Unlimited bool
}

// Allows reports whether n stays within the limit.
func (l Limit) Allows(n int) bool { return l.Unlimited || n <= l.N }

func (l Limit) String() string {
	if l.Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(l.N)
}

// UnmarshalYAML reads a non-negative integer or "unlimited".
func (l *Limit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && strings.EqualFold(n.Value, "unlimited") {
		*l = Limit{Unlimited: true}
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return valueError(n, "%q is not a limit: give a number (0 means none) or \"unlimited\"", n.Value)
	}
	*l = Limit{N: v}
	return nil
}

// Grace is a count of consecutive runs, or a duration; zero is none.
type Grace struct {
	Runs     int
	Duration time.Duration
}

// None reports whether there is no grace: removals happen at once.
func (g Grace) None() bool { return g.Runs <= 1 && g.Duration <= 0 }

func (g Grace) String() string {
	switch {
	case g.Duration > 0:
		return g.Duration.String()
	case g.Runs > 0:
		return fmt.Sprintf("%d runs", g.Runs)
	}
	return "none"
}

// UnmarshalYAML reads a count of runs (3) or a duration (72h).
func (g *Grace) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.Atoi(n.Value); err == nil && v >= 0 {
			*g = Grace{Runs: v}
			return nil
		}
		if d, err := time.ParseDuration(n.Value); err == nil && d >= 0 {
			*g = Grace{Duration: d}
			return nil
		}
	}
	return valueError(n, "%q is neither a count of runs (3) nor a duration (72h)", n.Value)
}

// Report says how the plan and outcome are printed.
type Report struct {
	Output string `yaml:"output"`
}

// Policies.
const (
	PolicyCreateOnly = "create-only"
	PolicyUpsert     = "upsert"
	PolicySync       = "sync"
)

// Auth modes.
var authModes = []string{"none", "service-account", "adc", "oauth-user", "app"}

// Report outputs.
var Outputs = []string{"text", "markdown", "json", "html"}

// Defaults returns a config with every default filled in.
func Defaults() Config {
	return Config{
		Policy: PolicyUpsert,
		API:    API{Endpoint: DefaultEndpoint},
		Auth:   Auth{Mode: "none"},
		Limits: Limits{
			ProjectWritesPerMinute:     300,
			ProjectReadsPerMinute:      3000,
			SpaceReadsPerSecond:        15,
			SpaceWritesPerSecond:       0,
			ProjectSpaceReadsPerMinute: 3000,
			DirectoryPerMinute:         2400,
			Headroom:                   0.98,
			QuotaWindow:                time.Minute,
			Concurrency:                0, // sized from the quotas: see Limits.CallsInFlight
			MaxAttempts:                6,
			CallTimeout:                30 * time.Second,
			RunTimeout:                 time.Hour,
		},
		Report:   Report{Output: "text"},
		Identity: Identity{Directory: true, CacheTTL: 24 * time.Hour},
		Safety: Safety{
			MaxRemovals:            Limit{N: 10},
			MaxRemovalPercent:      Limit{N: 20},
			MaxSourceShrinkPercent: Limit{N: 20},
		},
		State: State{Location: "syncer-state"},
		Plan:  Plan{MaxAge: 24 * time.Hour},
	}
}
