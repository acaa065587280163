"""Audio building blocks: WAV reading (wav), log-mel/MFCC front-end (frontend), keyed
waveform/frame augmentation (augment) and the FSDD archive reader (fsdd).

Nothing here is registered as a data set (kdbench/data/fsdd.py, audiofolder.py do that);
augment.py registers time_shift and noise for sequence inputs.
"""
