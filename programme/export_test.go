package programme

// UnreadInCourseSQL is the query every page of a course runs, for the test of its plan.
const UnreadInCourseSQL = unreadInCourse
