// Package power holds the pure parts of Stargate's power management that
// the engine and the simulator share. Controller is the capping rule: two
// thresholds per limit with hysteresis, lowest priority capped first, in
// the spirit of Dynamo, Thunderbolt and Polca. It reads no clock and no
// sensor: the caller passes measured draw and limits and applies the
// decisions (the engine's Control turns them into Cap and Uncap decisions;
// the simulator adds its reaction delay).
package power
