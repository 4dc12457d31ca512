#!/usr/bin/env python3
"""Instructions per relayed request, by where they run (crs, Beast, Asio, the allocator, libc,
...), from two callgrind runs of bench/callgrind_metrics.py with different request counts:

  python3 bench/callgrind_metrics.py --keep-alive 100   # prints its work directory, A
  python3 bench/callgrind_metrics.py --keep-alive 500   # B
  python3 bench/callgrind_breakdown.py A B 400 [top-N functions]
"""
import collections, re, subprocess, sys

GROUPS = [("simdjson", "simdjson"), ("libjemalloc", "allocator"), ("operator new", "allocator"),
          ("operator delete", "allocator"), ("boost::beast", "Beast"), ("boost::asio", "Asio"),
          ("boost::json", "Boost.JSON"), ("libcrypto", "OpenSSL"), ("libspdlog", "fmt/spdlog"),
          ("fmt::", "fmt/spdlog"), ("crs::", "crs"), ("libc.so", "libc"), ("libstdc++", "libstdc++"),
          ("std::", "libstdc++")]


def self_costs(directory):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", f"{directory}/cg.out"],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m:
            costs[m.group(2).strip()] = int(m.group(1).replace(",", ""))
    return costs


def main():
    a, b, requests = self_costs(sys.argv[1]), self_costs(sys.argv[2]), float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    groups, functions = collections.Counter(), []
    for name in set(a) | set(b):
        per_request = (b.get(name, 0) - a.get(name, 0)) / requests
        if "PROGRAM TOTALS" in name:
            print(f"total: {per_request:,.0f} instructions per request")
            continue
        group = next((g for key, g in GROUPS if key in name), "other")
        groups[group] += per_request
        functions.append((per_request, name))
    total = sum(groups.values())
    for group, v in groups.most_common():
        print(f"{v:10,.0f}  {100 * v / total:5.1f} %  {group}")
    print()
    for v, name in sorted(functions, reverse=True)[:top]:
        print(f"{v:10,.0f}  {name[:150]}")


if __name__ == "__main__":
    main()
