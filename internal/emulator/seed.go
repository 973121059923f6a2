package emulator

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/fsutil"
)

// Seed is the emulator's starting state.
type Seed struct {
	// Domains are the customer's own domains, beside those of its users.
	Domains []string    `yaml:"domains"`
	Users   []SeedUser  `yaml:"users"`
	Groups  []SeedGroup `yaml:"groups"`
	Spaces  []SeedSpace `yaml:"spaces"`
}

// SeedUser is a Directory user.
type SeedUser struct {
	ID      string   `yaml:"id"`
	Email   string   `yaml:"email"`
	Aliases []string `yaml:"aliases"`
	// NonEditableAliases are addresses in the customer's alias domains.
	NonEditableAliases []string `yaml:"non_editable_aliases"`
	AutoAccept         *bool    `yaml:"auto_accept"` // default true; false leaves new memberships INVITED
	External           bool     `yaml:"external"`    // outside the organisation: not in the Directory
	// Unsearched: a new account users.list does not show yet, though
	// users.get finds it (Google: new data may take up to 36 hours to
	// reach search results).
	Unsearched bool `yaml:"unsearched"`
	Suspended  bool `yaml:"suspended"`
	Archived   bool `yaml:"archived"` // an Archived User licence: in the Directory, not in Chat
	// OrgUnit is the user's organisational unit path (default /).
	OrgUnit    string `yaml:"org_unit"`
	Department string `yaml:"department"`
}

// SeedGroup is a Google Group.
type SeedGroup struct {
	ID    string `yaml:"id"`
	Email string `yaml:"email"`
	// Aliases are the group's other addresses: groups.get and members.list
	// take them as they take its email.
	Aliases []string `yaml:"aliases"`
	// Members are users' or other groups' emails, or "*": everyone in
	// the domain, which Google lists as one member of type CUSTOMER.
	Members []string `yaml:"members"`
}

// SeedSpace is a space and its memberships.
type SeedSpace struct {
	Name        string       `yaml:"name"`
	Type        string       `yaml:"type"` // SPACE (default), GROUP_CHAT, DIRECT_MESSAGE
	DisplayName string       `yaml:"display_name"`
	Members     []SeedMember `yaml:"members"`
	// ManageMembers is the space's "Who can manage members and groups"
	// setting: owners, managers (owners and managers, the default) or
	// members (everyone). It counts only under Options.Caller.
	ManageMembers string `yaml:"manage_members"`
	// AppCreated: the calling app created the space, so under app
	// authentication (Options.Caller "app") it may change roles there.
	AppCreated bool `yaml:"app_created"`
}

// SeedMember is one membership: a user (email or id), a group, or the app.
type SeedMember struct {
	User  string `yaml:"user"`
	Group string `yaml:"group"`
	App   bool   `yaml:"app"`
	Role  string `yaml:"role"`  // member, manager, owner or an API enum; default member
	State string `yaml:"state"` // JOINED (default), INVITED or NOT_A_MEMBER
	// ViaGroup: the user is in the space only through this group, so a
	// delete is refused (Chat: such members can't be removed directly).
	ViaGroup string `yaml:"via_group"`
}

// LoadSeed reads a seed file.
func LoadSeed(path string) (*Seed, error) {
	data, err := fsutil.ReadFile(path, 256<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var s Seed
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func seedRole(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "member":
		return roleMember, nil
	case "manager":
		return roleAssistantManager, nil
	case "owner":
		return roleManager, nil
	}
	switch s {
	case roleMember, roleAssistantManager, roleManager:
		return s, nil
	}
	return "", fmt.Errorf("unknown role %q", s)
}
