#!/bin/sh
# Inside a container under --pids-limit: a fork bomb, then what the pids controller saw, then
# exit 4. Only shell builtins after the bomb: a fork may fail while it runs. The bomb starts
# in one background subshell: ash forks each command of a background pipeline itself, and
# its second fork, racing the first child's bomb, could fail and end the script with 2.
bomb() { bomb | bomb & }
(bomb) 2>/dev/null &
i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
read current < /sys/fs/cgroup/pids.current
read events < /sys/fs/cgroup/pids.events
echo "bomb current $current events $events"
kill -9 -1 2>/dev/null
exit 4
