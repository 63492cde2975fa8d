import Ensemble
