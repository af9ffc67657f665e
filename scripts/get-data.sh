#!/usr/bin/env bash
# Make Fashion-MNIST available offline in ./data (or $FASHION_MNIST_ROOT).
# On Debian/Ubuntu as root, installs the package that ships the real files when nothing else has them.
set -euo pipefail
root="${FASHION_MNIST_ROOT:-data}"
python="${PYTHON:-.venv/bin/python}"
have_raw() {
  for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$root/FashionMNIST/raw/$name" ] || return 1
  done
}
if ! have_raw && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Fashion-MNIST not found: installing the Debian package dataset-fashion-mnist"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "Fashion-MNIST not found and not root on Debian/Ubuntu: torchvision will try to download it."
  fi
fi
# the folder goes in as an argument, not into the code, so that any name works
"$python" -c "import sys; from ddpm_sampling.data import ensure_fashion_mnist; print('Fashion-MNIST in', ensure_fashion_mnist(sys.argv[1]).resolve())" "$root"
