package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

// riverVersion is the River job queue schema version Huddle runs on. Bump it (with a
// new goose version that migrates to it) when upgrading River; the test template's
// hash includes it.
const riverVersion = 8

// riverMigration installs River's tables (the durable job queue behind grade sync)
// through River's own migrator, so `huddle migrate` applies one migration set and the
// test template holds the queue too. It runs outside goose's transaction: one of
// River's steps adds an enum value that PostgreSQL lets it use only after a commit,
// and River commits each of its versions itself. Goose's advisory lock still
// serialises instances, and River skips versions it has recorded, so a run cut
// short between River's commit and goose's record is safe to repeat.
func riverMigration() *goose.Migration {
	migrate := func(direction rivermigrate.Direction, target int) func(ctx context.Context, db *sql.DB) error {
		return func(ctx context.Context, db *sql.DB) error {
			m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
			if err != nil {
				return fmt.Errorf("river migrator: %w", err)
			}
			if _, err := m.Migrate(ctx, direction, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
				return fmt.Errorf("river migrate %s to %d: %w", direction, target, err)
			}
			return nil
		}
	}
	return goose.NewGoMigration(3,
		&goose.GoFunc{RunDB: migrate(rivermigrate.DirectionUp, riverVersion)},
		&goose.GoFunc{RunDB: migrate(rivermigrate.DirectionDown, -1)},
	)
}
