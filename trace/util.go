package trace

import "sort"

func sortRequests(r []Request) {
	sort.SliceStable(r, func(a, b int) bool { return r[a].Time < r[b].Time })
}
