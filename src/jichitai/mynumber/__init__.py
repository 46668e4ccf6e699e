"""My Number utilization zone (マイナンバー利用事務系): the standardized core systems."""
