"""Audio building blocks: WAV reading (wav), log-mel/MFCC front-end (frontend), keyed
waveform/frame augmentation (augment) and the FSDD archive reader (fsdd).

Nothing here is registered as a data set; the loaders that use these blocks do that.
"""
