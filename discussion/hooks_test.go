package discussion

import "context"

// ReleaseNow releases a board's waiting fully anonymous posts whether or not its queue
// is due, and returns the posts it wrote: tests that look at a fully anonymous post
// need it written, and need to know which it is. Only tests see it.
func (s *Service) ReleaseNow(ctx context.Context, boardID int64) ([]Posted, error) {
	return s.releaseBoard(ctx, boardID, s.now().UTC(), true)
}
