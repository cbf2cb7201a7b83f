import './base.css';
import './masks.css';
