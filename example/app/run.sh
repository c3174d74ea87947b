#!/bin/sh
echo "Layer Lens example app: $(wc -c < /app/data.bin) bytes of data"
