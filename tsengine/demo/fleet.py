"""A synthetic high-rate vibration feed for a fleet of rotating assets.

Each asset is a pump or fan with one accelerometer sampled at ``sample_rate`` Hz. Its
signal is what a condition-monitoring engineer expects to see:

- the running speed (1x, 23 to 31 Hz, different per asset) and its 2x harmonic, with
  amplitudes of a few tenths of g;
- broadband noise (0.05 g RMS);
- on one asset, the ``faulty`` one, an outer-race bearing defect: a carrier at 3.57x
  running speed, amplitude-modulated by the shaft, whose amplitude grows linearly from
  zero to ``fault_gain`` g over ``fault_ramp_s`` seconds, so its RMS and peak KPIs
  drift upwards during the run while the others stay flat.

Values are rounded to 1e-4 g, the resolution of a 16-bit ADC over +-3.3 g, which is
also what lets the float codecs find the decimal digits. Batches come in long format
(``time``, ``asset`` dictionary-encoded, ``accel``) ready for :meth:`Engine.write`.

Generating 1 M samples per second must cost little next to storing them, so the
periodic part is looked up, not computed: each running speed is ``sample_rate / k``
for a whole number ``k`` of samples per revolution, and one revolution of the 1x + 2x
waveform is tabulated per asset. Noise is drawn once into a pool of a few million
normal values and taken from it at a random offset per batch: the same distribution
and spectrum at a fraction of the cost. Only the faulty asset's defect carrier (not
periodic in ``k``) is computed sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

#: Name of the vibration table and its single field (acceleration, g).
TABLE = "vibration"
FIELD = "accel"
#: Ratio of the bearing-defect carrier to the running speed (outer-race BPFO).
_DEFECT_ORDER = 3.57
_NOISE_G = 0.05
_SCALE = 1e4  # resolution 1e-4 g; x / 1e4 is the double nearest the decimal
_NOISE_POOL = 1 << 21


@dataclass
class VibrationFleet:
    """Generator of vibration samples for ``assets`` assets.

    Parameters
    ----------
    assets : int
        Number of assets, named ``P-001``, ``P-002``, ...
    sample_rate : int
        Samples per second per asset; must divide 1e9 so sample times are whole ns.
    start_ns : int
        Time of the first sample (int ns since the epoch, UTC).
    faulty : int
        Index of the asset with the growing bearing fault.
    fault_ramp_s : float
        Seconds of signal over which the fault grows from 0 to ``fault_gain`` g.
    fault_gain : float
        Final amplitude of the defect carrier, g.
    seed : int
        Seed of the noise and of the per-asset speeds and phases.

    Examples
    --------
    >>> fleet = VibrationFleet(assets=2, sample_rate=1000, start_ns=0)
    >>> batch = fleet.next_batch(4)
    >>> batch.num_rows, batch.column_names
    (8, ['time', 'asset', 'accel'])
    >>> batch.column("time").to_pylist()[:4]
    [0, 1000000, 2000000, 3000000]
    """

    assets: int
    sample_rate: int
    start_ns: int
    faulty: int = 0
    fault_ramp_s: float = 20.0
    fault_gain: float = 1.2
    seed: int = 7
    samples: int = 0
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.assets < 1:
            raise ValueError(f"assets={self.assets!r} must be at least 1")
        if self.sample_rate < 1 or 1_000_000_000 % self.sample_rate:
            raise ValueError(
                f"sample_rate={self.sample_rate!r} Hz must divide 1e9 so that sample "
                "times are whole nanoseconds (e.g. 10000, 20000, 25000, 50000)"
            )
        if not 0 <= self.faulty < self.assets:
            raise ValueError(f"faulty={self.faulty!r} must name one of the assets")
        rng = np.random.default_rng(self.seed)
        self.names = [f"P-{i + 1:03d}" for i in range(self.assets)]
        self.step_ns = 1_000_000_000 // self.sample_rate

        # one revolution of 1x + 2x per asset: speed = sample_rate / k exactly
        wanted = rng.uniform(23.0, 31.0, self.assets)  # Hz
        self._period = np.maximum(np.rint(self.sample_rate / wanted), 2).astype(int)
        amp1 = rng.uniform(0.25, 0.45, self.assets)  # g
        amp2 = rng.uniform(0.05, 0.15, self.assets)  # g
        phase = rng.uniform(0.0, 2 * np.pi, self.assets)
        waves = []
        for k, a1, a2, p in zip(self._period, amp1, amp2, phase):
            angle = 2 * np.pi * np.arange(k) / k + p
            waves.append(a1 * np.sin(angle) + a2 * np.sin(2 * angle))
        self._waves = np.concatenate(waves)  # all revolutions, asset after asset
        self._wave_start = np.cumsum([0, *self._period[:-1]])[:, None]
        self._fault_phase = phase[self.faulty]
        self._codes: tuple[int, pa.Array] | None = None  # asset codes of the last n

        # a pool of noise, read at random offsets
        self._pool = rng.standard_normal(_NOISE_POOL) * _NOISE_G
        self._offsets = np.random.default_rng(self.seed + 1)
        self._dictionary = pa.array(self.names)

    @property
    def faulty_name(self) -> str:
        """Name of the asset whose vibration drifts."""
        return self.names[self.faulty]

    @property
    def speeds_hz(self) -> np.ndarray:
        """Running speed of each asset, Hz."""
        return self.sample_rate / self._period

    @property
    def points_per_second(self) -> int:
        """Samples the whole fleet produces per second of signal."""
        return self.assets * self.sample_rate

    def next_batch(self, n: int) -> pa.Table:
        """The next ``n`` samples of every asset, ``assets * n`` rows, asset-major.

        Consecutive calls continue the signal without a gap or a repeated time.
        """
        if n < 1:
            raise ValueError(f"n={n!r} samples must be at least 1")
        first = self.samples
        self.samples += n
        k = np.arange(first, first + n, dtype=np.int64)

        # shaft: each asset's tabulated revolution, from where the last batch ended
        signal = self._waves[self._wave_start + k % self._period[:, None]]

        # bearing defect on one asset: growing carrier, modulated by the shaft
        a = self.faulty
        seconds = k * (self.step_ns * 1e-9)
        angle = 2 * np.pi * self.speeds_hz[a] * seconds + self._fault_phase
        ramp = np.minimum(seconds / self.fault_ramp_s, 1.0) * self.fault_gain
        signal[a] += ramp * np.sin(_DEFECT_ORDER * angle) * (0.6 + 0.4 * np.cos(angle))

        # sensor noise from the pool, then the ADC's resolution (in place)
        values = signal.ravel()
        size = values.size
        if size > _NOISE_POOL:
            raise ValueError(f"n={n!r} samples per asset exceed the noise pool")
        start = int(self._offsets.integers(0, _NOISE_POOL - size + 1))
        values += self._pool[start : start + size]
        np.multiply(values, _SCALE, out=values)
        np.rint(values, out=values)
        np.divide(values, _SCALE, out=values)

        times = np.tile(self.start_ns + k * self.step_ns, self.assets)
        if self._codes is None or self._codes[0] != n:
            codes = np.repeat(np.arange(self.assets, dtype=np.int32), n)
            self._codes = (n, pa.array(codes))
        asset = pa.DictionaryArray.from_arrays(self._codes[1], self._dictionary)
        return pa.table({"time": times, "asset": asset, FIELD: values})


__all__ = ["FIELD", "TABLE", "VibrationFleet"]
