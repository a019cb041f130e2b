# Sourced by tools/setup.sh and tools/kernel_setup.sh: what both need to
# install Debian packages only when some are missing.
#
#   SUDO            () as root, (sudo) otherwise: "${SUDO[@]}" apt-get ...
#   deb_missing PKG...
#                   prints the packages that are not installed, one a line

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
else
	SUDO=(sudo)
fi

deb_missing() {
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [ "$status" != "install ok installed" ]; then
			echo "$pkg"
		fi
	done
}
