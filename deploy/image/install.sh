#!/bin/sh
# install.sh HOSTROOT - the DaemonSet's init step: egressctl and the libraries it loads go to
# HOSTROOT/opt/egress, and HOSTROOT/usr/local/sbin/egressctl runs it through them (the path the
# runtime hooks name: deploy/containerd/*.json, deploy/hooks.d/*.json).  Every file is
# written beside its place and renamed over it, so a hook never runs a half-written egressctl.
set -eu
h=${1:?usage: install.sh HOSTROOT}
mkdir -p "$h/opt/egress/bin" "$h/opt/egress/lib" "$h/usr/local/sbin"
for lib in $(cat /opt/egress/libs); do
	cp "$lib" "$h/opt/egress/lib/.new" && mv "$h/opt/egress/lib/.new" "$h/opt/egress/lib/${lib##*/}"
done
cp /usr/sbin/egressctl "$h/opt/egress/bin/.egressctl.new"
mv "$h/opt/egress/bin/.egressctl.new" "$h/opt/egress/bin/egressctl"
cat >"$h/usr/local/sbin/.egressctl.new" <<'WRAP'
#!/bin/sh
exec /opt/egress/lib/LOADER --library-path /opt/egress/lib --argv0 egressctl /opt/egress/bin/egressctl "$@"
WRAP
loader=$(grep -o 'ld-linux[^/]*$' /opt/egress/libs | head -1)
sed -i "s/LOADER/$loader/" "$h/usr/local/sbin/.egressctl.new"
chmod 755 "$h/usr/local/sbin/.egressctl.new"
mv "$h/usr/local/sbin/.egressctl.new" "$h/usr/local/sbin/egressctl"
echo "installed egressctl in $h/opt/egress and $h/usr/local/sbin/egressctl"
