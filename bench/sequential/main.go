// Command sequential is the comparison client for the syncer's
// benchmarks: the membership sync written the way Google's samples write
// it, one call at a time with the official Go clients. It is not part of
// the product.
//
// It lists each space named in a space,member,role CSV, looks up each email
// the list doesn't show with a Directory users.get, then creates missing
// members and patches roles, in order, one call after another.
//
//	sequential --endpoint http://127.0.0.1:PORT/ --csv members.csv
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	admin "google.golang.org/api/admin/directory/v1"
	chat "google.golang.org/api/chat/v1"
	"google.golang.org/api/option"
)

func main() {
	endpoint := flag.String("endpoint", "", "base URL of the Chat and Directory APIs")
	path := flag.String("csv", "", "space,member,role source")
	flag.Parse()
	if err := run(*endpoint, *path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type row struct{ space, email, role string }

var roles = map[string]string{"": "", "member": "ROLE_MEMBER", "manager": "ROLE_ASSISTANT_MANAGER", "owner": "ROLE_MANAGER"}

func run(endpoint, path string) error {
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(endpoint), option.WithoutAuthentication()}
	chatSvc, err := chat.NewService(ctx, opts...)
	if err != nil {
		return err
	}
	dirSvc, err := admin.NewService(ctx, opts...)
	if err != nil {
		return err
	}
	rows, err := readCSV(path)
	if err != nil {
		return err
	}
	// 1. List every space.
	type member struct{ name, role string }
	current := map[string]map[string]member{} // space → email or users/{id} → membership
	for _, r := range rows {
		if current[r.space] != nil {
			continue
		}
		m := map[string]member{}
		err := chatSvc.Spaces.Members.List(r.space).ShowInvited(true).Pages(ctx, func(resp *chat.ListMembershipsResponse) error {
			for _, ms := range resp.Memberships {
				if ms.Member == nil {
					continue
				}
				m[ms.Member.Name] = member{ms.Name, ms.Role}
				if ms.Member.Email != "" {
					m[strings.ToLower(ms.Member.Email)] = member{ms.Name, ms.Role}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", r.space, err)
		}
		current[r.space] = m
	}
	// 2. Look up each email the lists don't show; 3. create and patch.
	for _, r := range rows {
		m, ok := current[r.space][r.email]
		if !ok {
			u, err := dirSvc.Users.Get(r.email).Context(ctx).Do()
			if err != nil {
				return fmt.Errorf("look up %s: %w", r.email, err)
			}
			m, ok = current[r.space]["users/"+u.Id]
		}
		if !ok {
			created, err := chatSvc.Spaces.Members.Create(r.space, &chat.Membership{Member: &chat.User{Name: "users/" + r.email, Type: "HUMAN"}}).Context(ctx).Do()
			if err != nil {
				return fmt.Errorf("add %s to %s: %w", r.email, r.space, err)
			}
			m = member{created.Name, created.Role}
		}
		if want := roles[r.role]; want != "" && want != m.role {
			if _, err := chatSvc.Spaces.Members.Patch(m.name, &chat.Membership{Role: want}).UpdateMask("role").Context(ctx).Do(); err != nil {
				return fmt.Errorf("set %s's role in %s: %w", r.email, r.space, err)
			}
		}
	}
	return nil
}

func readCSV(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil { // header
		return nil, err
	}
	var rows []row
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{space: rec[0], email: strings.ToLower(rec[1]), role: rec[2]})
	}
}
