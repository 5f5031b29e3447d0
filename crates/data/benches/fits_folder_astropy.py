"""astropy's side of the fits_folder benchmark: reads every .fits file of a folder (the data
of the first image HDU, summed so that it is really read) and prints files/s.

    python fits_folder_astropy.py FOLDER
"""
import sys
import time
from pathlib import Path

from astropy.io import fits

paths = sorted(Path(sys.argv[1]).glob("*.fits"))
started = time.perf_counter()
total = 0.0
for path in paths:
    with fits.open(path, memmap=False) as hdus:
        total += float(hdus[0].data.sum())
rate = len(paths) / (time.perf_counter() - started)
print(f"astropy {__import__('astropy').__version__}, 1 thread: {rate:.0f} files/s")
