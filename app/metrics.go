package app

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports pgxpool statistics at scrape time, with names starting
// prefix: huddle_db_pool_ for the web pool, huddle_db_background_pool_ for the direct
// one. A pool whose tracer counts timeouts (the web pool's, through pgwait.Tracer) also
// exports the requests that gave up waiting.
type poolCollector struct {
	pool                                       *pgxpool.Pool
	tracer                                     interface{ Timeouts() int64 }
	total, idle, acquired, max, acquires, wait *prometheus.Desc
	timeouts                                   *prometheus.Desc
}

func newPoolCollector(p *pgxpool.Pool, prefix string) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prefix+name, help, nil, nil)
	}
	tracer, _ := p.Config().ConnConfig.Tracer.(interface{ Timeouts() int64 })
	return &poolCollector{
		pool:     p,
		tracer:   tracer,
		timeouts: d("acquire_timeouts_total", "Requests that found no free connection in time and were answered 503."),
		total:    d("connections", "Open connections in the pool."),
		idle:     d("idle_connections", "Idle connections in the pool."),
		acquired: d("acquired_connections", "Connections currently in use."),
		max:      d("max_connections", "Largest pool size allowed."),
		acquires: d("acquires_total", "Connections handed out since start."),
		wait:     d("acquire_wait_seconds_total", "Time spent waiting for a free connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.wait} {
		ch <- d
	}
	if c.tracer != nil {
		ch <- c.timeouts
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	if c.tracer != nil {
		ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(c.tracer.Timeouts()))
	}
}
