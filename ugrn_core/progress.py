"""Progress bars for long runs outside the app (the CLI, notebooks): one tqdm bar per stage."""

from __future__ import annotations


class StageBars:
    """One tqdm bar per stage of a long run: ``bars(stage, done, total)``, then ``close()``."""

    def __init__(self, desc=lambda stage: stage, **tqdm_kw):
        self.desc, self.kw, self.bars = desc, tqdm_kw, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            self.close()
            bar = self.bars[stage] = tqdm(total=max(total, 1), desc=self.desc(stage), **self.kw)
        bar.update(max(0, min(done, bar.total) - bar.n))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


__all__ = ["StageBars"]
