// Package chart holds the charts that the console and the offline reports
// share: one JavaScript file of plain SVG charts (line charts over time or
// over numbers, on a log scale if asked, stacked areas, gauges, sortable
// tables), embedded in the binary. The console serves it as
// /console/chart.js; the reports of 'stargate sim --out' and 'stargate
// plan --html' inline it, with their data as JSON, so that both draw with
// the same code.
package chart

import _ "embed"

// Script is the chart code, a classic script that defines sgLineChart,
// sgBar, sgSortable and their helpers.
//
//go:embed chart.js
var Script string

// ReportStyle is the stylesheet of the offline reports: the page, its
// tables and the chart classes that Script draws with. The console keeps
// its own.
//
//go:embed report.css
var ReportStyle string
