#!/bin/sh
# The script busybox udhcpc runs on each DHCP event (installed as
# /etc/udhcpc/default.script in the test root): applies the lease to the interface,
# the default route and /etc/resolv.conf. udhcpc passes the event as $1 and the lease in the
# environment (interface, ip, mask, router, dns).
case $1 in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for gw in $router; do
      ip route replace default via "$gw" dev "$interface"
      break
    done
    : >/etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >>/etc/resolv.conf; done
    ;;
esac
exit 0
