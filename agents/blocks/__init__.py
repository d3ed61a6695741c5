"""Small, named building blocks of the learning agents (DESIGN.md Sec. 6); an algorithm file
(agents/dm_mappo.py, agents/masac.py) imports the few it needs from their modules:

- ``distributions``: :class:`MaskedCategorical` (twin-migration Eq. 23–24);
- ``layout``: :class:`Layout`, the env's agents and servers as the networks see them;
- ``normalisers``: :class:`RunningMeanStd`, :class:`Featuriser` (normalised inputs, one-hot id);
- ``networks``: ``layer_init``, ``mlp``, :class:`ServerScorer`, :class:`Actor`;
- ``rollout``: :class:`EpisodeBatch`, ``collect_episodes``, ``episode_metrics`` and friends;
- ``advantages``: ``compute_gae``;
- ``buffers``: :class:`ReplayBuffer`;
- ``checkpoints``: ``save_checkpoint``, ``load_checkpoint``;
- ``seeding``: ``seed_everything``;
- ``policy``: :class:`ActorPolicy`, a trained actor as a kernel Policy.
"""
