package web

// FeedbackBarChart is barChart, for the tests of package web_test.
var FeedbackBarChart = barChart
