# Two ranks of one machine joined by an emulated network (sourced by
# tests/cli/network.sh and tests/bench/network.sh): each rank in its own
# network namespace, the two joined by a veth pair whose both ends are
# shaped by tc, and the MPI library told to use TCP over that pair only
# (Open MPI's TCP transport, or UCX's under MPICH). Needs root (namespaces,
# tc) and Open MPI's or MPICH's launcher; shapes with netem (rate
# and delay) where the kernel has it, else with tbf (rate only: some VM
# kernels lack sch_netem, this project's machines among them).
#
# net_up RATE DELAY   e.g. net_up 10gbit 50us  (sets NET_SHAPE to what was applied)
# net_run ARGS...     shardml ARGS on the two ranks, rank 0 in the first namespace
#                     (NET_TIMEOUT seconds at most, default 120)
# net_tx_bytes        bytes the first namespace has sent over the link so far
# net_down            removes both namespaces (and with them the link)
NET_NS=(sml$$a sml$$b)
NET_IF=(smlv$$a smlv$$b)
NET_SHAPE=
net_possible() { # why not, on stdout, when this machine cannot (exit 1)
  [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; return 1; }
  command -v ip >/dev/null && command -v tc >/dev/null || { echo "needs ip and tc (iproute2)"; return 1; }
  [ -n "$(net_launcher)" ] || { echo "needs Open MPI's or MPICH's launcher (${MPIEXEC:-mpirun} is neither)"; return 1; }
  ip netns add "${NET_NS[0]}" 2>/dev/null || { echo "cannot create a network namespace here"; return 1; }
  ip netns del "${NET_NS[0]}"
}
net_up() {
  local rate=$1 delay=$2 k
  ip netns add "${NET_NS[0]}" && ip netns add "${NET_NS[1]}" || return 1
  ip link add "${NET_IF[0]}" type veth peer name "${NET_IF[1]}" || return 1
  for k in 0 1; do
    ip link set "${NET_IF[$k]}" netns "${NET_NS[$k]}"
    ip -n "${NET_NS[$k]}" addr add "10.199.0.$((k + 1))/24" dev "${NET_IF[$k]}"
    ip -n "${NET_NS[$k]}" link set lo up
    ip -n "${NET_NS[$k]}" link set "${NET_IF[$k]}" up
  done
  NET_SHAPE="netem rate $rate delay $delay"
  for k in 0 1; do
    ip netns exec "${NET_NS[$k]}" tc qdisc add dev "${NET_IF[$k]}" root netem rate "$rate" delay "$delay" 2>/dev/null ||
      { NET_SHAPE="tbf rate $rate (no netem in this kernel: no added delay)"
        ip netns exec "${NET_NS[$k]}" tc qdisc add dev "${NET_IF[$k]}" root tbf rate "$rate" burst 256kb latency 10ms; } ||
      return 1
  done
}
net_launcher() { # openmpi or hydra (MPICH's), from the launcher's --version
  case $("${MPIEXEC:-mpirun}" --version 2>&1) in
    *OpenRTE* | *"Open MPI"*) echo openmpi ;;
    *HYDRA*) echo hydra ;;
  esac
}
net_run() {
  if [ "$(net_launcher)" = hydra ]; then
    # Hydra hands each rank its PMI connection as an inherited descriptor,
    # so the ranks may live in other namespaces; UCX (MPICH's ch4:ucx) is
    # told to use TCP over its own side of the link only.
    timeout "${NET_TIMEOUT:-120}" "${MPIEXEC:-mpirun}" \
      -n 1 env UCX_TLS=tcp,self UCX_NET_DEVICES="${NET_IF[0]}" ip netns exec "${NET_NS[0]}" "$SHARDML" "$@" : \
      -n 1 env UCX_TLS=tcp,self UCX_NET_DEVICES="${NET_IF[1]}" ip netns exec "${NET_NS[1]}" "$SHARDML" "$@"
    return
  fi
  # mpirun and rank 0 live in the first namespace, rank 1 in the second; the
  # PMIx server listens on the link so that rank 1 reaches it, and the ranks'
  # messages take TCP over the link (no shared memory).
  PMIX_MCA_ptl_tcp_remote_connections=1 PMIX_MCA_ptl_tcp_if_include=10.199.0.0/24 \
    ip netns exec "${NET_NS[0]}" timeout "${NET_TIMEOUT:-120}" "${MPIEXEC:-mpirun}" --bind-to none --mca btl tcp,self \
    --mca btl_tcp_if_include 10.199.0.0/24 -n 1 "$SHARDML" "$@" : \
    -n 1 ip netns exec "${NET_NS[1]}" "$SHARDML" "$@"
}
net_tx_bytes() { ip netns exec "${NET_NS[0]}" cat "/sys/class/net/${NET_IF[0]}/statistics/tx_bytes"; }
net_down() { ip netns del "${NET_NS[0]}" 2>/dev/null; ip netns del "${NET_NS[1]}" 2>/dev/null; true; }
